CREATE TABLE `t` (`id` int, `v` varchar(200)) SELECT 1 AS id, CURRENT_USER() AS v;
