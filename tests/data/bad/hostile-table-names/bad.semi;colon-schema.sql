CREATE TABLE `semi;colon` (`id` int PRIMARY KEY, `v` varchar(60));
