CREATE TABLE `t` (
  `id` int NOT NULL,
  `v` varchar(10) CHARACTER SET utf8mb4 DEFAULT NULL,
  PRIMARY KEY (`id`)
);
