INSERT INTO `ünï表` VALUES (7,'ünï表');
