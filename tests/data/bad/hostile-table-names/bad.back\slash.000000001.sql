INSERT INTO `back\slash` VALUES (9,'back\\slash');
