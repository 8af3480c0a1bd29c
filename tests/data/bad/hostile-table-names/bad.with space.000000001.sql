INSERT INTO `with space` VALUES (6,'with space');
