CREATE TABLE `t` LIKE `mysql`.`user`;
