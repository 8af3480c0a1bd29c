CREATE TABLE `t` (
  `id` int NOT NULL,
  `v` longtext DEFAULT NULL,
  PRIMARY KEY (`id`)
);
