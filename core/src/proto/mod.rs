//! Wire codecs. [`jute`] is the ZooKeeper client protocol; the peer protocol (postcard)
//! arrives with the replication core.

pub mod jute;
