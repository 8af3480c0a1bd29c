CREATE TABLE `pct/slash.dot` (`id` int PRIMARY KEY, `v` varchar(60));
