//! The ZooKeeper client wire codec (being written; see issue "Foundation").
