INSERT INTO `tick``tock` VALUES (1,'tick`tock');
