"""Reading a dump: finding its files, parsing schema and data files, cutting data into chunks."""
