CREATE TABLE `emoji😀` (`id` int);
