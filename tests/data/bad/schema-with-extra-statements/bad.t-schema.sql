DROP DATABASE `@VICTIM@`;
CREATE TABLE `t` (
  `id` int NOT NULL,
  `v` varchar(10) DEFAULT NULL,
  PRIMARY KEY (`id`)
);
INSERT INTO `t` VALUES (99,'sneaky');
DROP TABLE `t`;
