DROP DATABASE `@VICTIM@`;
CREATE DATABASE `bad_sneaky`;
SET GLOBAL max_connections = 1;
INSERT INTO `t` VALUES (1,'a');
UPDATE `t` SET `v` = 'changed';
DELETE FROM `t`;
