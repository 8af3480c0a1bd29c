CREATE TABLE `x'; echo pwned; '` (`id` int PRIMARY KEY);
