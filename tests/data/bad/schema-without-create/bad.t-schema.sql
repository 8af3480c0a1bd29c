/*!40101 SET NAMES binary*/;
SET @x = 1;
