INSERT INTO `other` VALUES (1,'a');
INSERT INTO `@VICTIM@`.`other` VALUES (2,'b');
