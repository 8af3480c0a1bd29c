INSERT INTO `t` VALUES
(1,'row1'),
(2,'row2');
