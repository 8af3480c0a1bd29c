INSERT INTO `t` VALUES (1,'a'),(2,'b'),(1,'c'),(3,'d');
