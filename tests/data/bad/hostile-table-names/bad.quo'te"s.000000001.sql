INSERT INTO `quo'te"s` VALUES (3,'quo''te"s');
