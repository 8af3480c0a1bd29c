CREATE TABLE `tick``tock` (`id` int PRIMARY KEY, `v` varchar(60));
