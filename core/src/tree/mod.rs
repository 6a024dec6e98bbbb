//! The znode tree (being written; see issue "Foundation").
