/*!40101 SET NAMES binary*/;
/*!40014 SET FOREIGN_KEY_CHECKS=0*/;
-- nothing here
# nor here
/* INSERT INTO t VALUES (9,'no'); */
