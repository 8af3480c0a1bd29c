INSERT INTO `semi;colon` VALUES (2,'semi;colon');
