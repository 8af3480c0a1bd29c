INSERT INTO `pct/slash.dot` VALUES (8,'pct/slash.dot');
