CREATE TABLE `ünï表` (`id` int PRIMARY KEY, `v` varchar(60));
