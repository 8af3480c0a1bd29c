CREATE TABLE `y``; DROP DATABASE ``@VICTIM@``; --` (`id` int PRIMARY KEY, `v` varchar(60));
