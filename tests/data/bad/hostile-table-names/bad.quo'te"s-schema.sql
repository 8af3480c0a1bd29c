CREATE TABLE `quo'te"s` (`id` int PRIMARY KEY, `v` varchar(60));
