CREATE TABLE `t` (`id` int PRIMARY KEY, `v` varchar(10) NOT NULLL);
