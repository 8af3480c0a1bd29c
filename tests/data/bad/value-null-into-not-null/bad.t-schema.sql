CREATE TABLE `t` (
  `id` int NOT NULL PRIMARY KEY,
  `ti` tinyint DEFAULT NULL,
  `u` int unsigned DEFAULT NULL,
  `d` date DEFAULT NULL,
  `v` varchar(5) DEFAULT NULL,
  `nn` varchar(5) NOT NULL DEFAULT '',
  `s` varchar(20) CHARACTER SET utf8mb4 DEFAULT NULL
) DEFAULT CHARSET=utf8mb4;
