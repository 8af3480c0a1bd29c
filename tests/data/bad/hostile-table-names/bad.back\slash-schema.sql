CREATE TABLE `back\slash` (`id` int PRIMARY KEY, `v` varchar(60));
