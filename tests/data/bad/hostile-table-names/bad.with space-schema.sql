CREATE TABLE `with space` (`id` int PRIMARY KEY, `v` varchar(60));
