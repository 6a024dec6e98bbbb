use super::*;

fn parse(text: &str) -> Config {
    Config::parse(text).unwrap().0
}

fn bad(text: &str) -> (usize, String) {
    match Config::parse(text) {
        Err(ConfigError::BadValue { line, key, .. }) => (line, key),
        other => panic!("expected BadValue for {text:?}, got {other:?}"),
    }
}

/// The shape of ZooKeeper's shipped `conf/zoo_sample.cfg`.
const ZOO_SAMPLE: &str = "\
# The number of milliseconds of each tick
tickTime=2000
# The number of ticks that the initial
# synchronization phase can take
initLimit=10
# The number of ticks that can pass between
# sending a request and getting an acknowledgement
syncLimit=5
# the directory where the snapshot is stored.
# do not use /tmp for storage, /tmp here is just
# example sakes.
dataDir=/tmp/zookeeper
# the port at which the clients will connect
clientPort=2181
# the maximum number of client connections.
# increase this if you need to handle more clients
#maxClientCnxns=60
#
# Be sure to read the maintenance section of the
# administrator guide before turning on autopurge.
#
# The number of snapshots to retain in dataDir
#autopurge.snapRetainCount=3
# Purge task interval in hours
# Set to \"0\" to disable auto purge feature
#autopurge.purgeInterval=1

## Metrics Providers
#
# https://prometheus.io Metrics Exporter
#metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
#metricsProvider.httpHost=0.0.0.0
#metricsProvider.httpPort=7000
#metricsProvider.exportJvmInfo=true
";

#[test]
fn zoo_sample_cfg_as_shipped() {
    let (c, warnings) = Config::parse(ZOO_SAMPLE).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(c.tick_time, Duration::from_millis(2000));
    assert_eq!(c.init_limit_ticks, 10);
    assert_eq!(c.sync_limit_ticks, 5);
    assert_eq!(c.data_dir, PathBuf::from("/tmp/zookeeper"));
    assert_eq!(c.data_log_dir, PathBuf::from("/tmp/zookeeper"));
    assert_eq!(c.client_addr, "0.0.0.0:2181".parse().unwrap());
    assert_eq!(c.max_client_cnxns, 60);
    assert_eq!(c.min_session_timeout, Duration::from_millis(4000));
    assert_eq!(c.max_session_timeout, Duration::from_millis(40000));
    assert_eq!(c.autopurge_snap_retain_count, 3);
    assert_eq!(c.autopurge_purge_interval, None);
    assert!(c.four_letter_words.allows("srvr"));
    assert!(!c.four_letter_words.allows("stat"));
    assert!(c.servers.is_empty());
    assert_eq!(c.myid, None);
}

#[test]
fn defaults_with_only_data_dir() {
    let c = parse("dataDir=/d");
    assert_eq!(c.tick_time, Duration::from_millis(3000));
    assert_eq!(c.min_session_timeout, Duration::from_millis(6000));
    assert_eq!(c.max_session_timeout, Duration::from_millis(60000));
    assert_eq!(c.client_addr.port(), 2181);
}

#[test]
fn every_key() {
    let c = parse(
        "  tickTime = 500 \n\
         initLimit=7\n\
         syncLimit=3\n\
         dataDir=/var/lib/zk\n\
         dataLogDir=/fast/zklog\n\
         clientPort=2281\n\
         clientPortAddress=127.0.0.1\n\
         maxClientCnxns=0\n\
         minSessionTimeout=1000\n\
         maxSessionTimeout=9000\n\
         autopurge.snapRetainCount=5\n\
         autopurge.purgeInterval=24\n\
         4lw.commands.whitelist=stat, ruok,mntr\n\
         server.1=zoo1:2888:3888\n\
         server.2=10.0.0.2:2888:3888:participant;2182\n\
         server.3=[::1]:2888:3888:observer;127.0.0.1:2183\n",
    );
    assert_eq!(c.tick_time, Duration::from_millis(500));
    assert_eq!((c.init_limit_ticks, c.sync_limit_ticks), (7, 3));
    assert_eq!(c.data_dir, PathBuf::from("/var/lib/zk"));
    assert_eq!(c.data_log_dir, PathBuf::from("/fast/zklog"));
    assert_eq!(c.client_addr, "127.0.0.1:2281".parse().unwrap());
    assert_eq!(c.max_client_cnxns, 0);
    assert_eq!(c.min_session_timeout, Duration::from_secs(1));
    assert_eq!(c.max_session_timeout, Duration::from_secs(9));
    assert_eq!(c.autopurge_snap_retain_count, 5);
    assert_eq!(
        c.autopurge_purge_interval,
        Some(Duration::from_secs(24 * 3600))
    );
    assert!(c.four_letter_words.allows("ruok"));
    assert!(c.four_letter_words.allows("mntr"));
    assert!(!c.four_letter_words.allows("srvr"));
    assert_eq!(
        c.servers[&ServerId(1)],
        ServerSpec {
            host: "zoo1".into(),
            peer_port: 2888,
            election_port: 3888,
            role: ServerRole::Participant,
            client_addr: None,
        }
    );
    assert_eq!(
        c.servers[&ServerId(2)].client_addr,
        Some("0.0.0.0:2182".parse().unwrap())
    );
    let s3 = &c.servers[&ServerId(3)];
    assert_eq!(s3.host, "::1");
    assert_eq!(s3.role, ServerRole::Observer);
    assert_eq!(s3.client_addr, Some("127.0.0.1:2183".parse().unwrap()));
}

#[test]
fn comments_blank_lines_and_duplicates() {
    let c = parse("! bang comment\n\n   # hash comment\ndataDir=/a\ndataDir=/b\n");
    assert_eq!(c.data_dir, PathBuf::from("/b"));
}

#[test]
fn four_letter_words_star_and_case() {
    assert_eq!(
        parse("dataDir=/d\n4lw.commands.whitelist=*").four_letter_words,
        FourLetterWords::All
    );
    assert!(parse("dataDir=/d\n4lw.commands.whitelist=SRVR, conf")
        .four_letter_words
        .allows("srvr"));
    assert_eq!(
        bad("dataDir=/d\n4lw.commands.whitelist=srvr,stats"),
        (2, "4lw.commands.whitelist".into())
    );
}

#[test]
fn session_timeout_minus_one_means_default() {
    let c = parse("tickTime=1000\ndataDir=/d\nminSessionTimeout=-1\nmaxSessionTimeout=-1");
    assert_eq!(c.min_session_timeout, Duration::from_secs(2));
    assert_eq!(c.max_session_timeout, Duration::from_secs(20));
}

#[test]
fn autopurge_values() {
    let (c, w) =
        Config::parse("dataDir=/d\nautopurge.snapRetainCount=1\nautopurge.purgeInterval=0")
            .unwrap();
    assert_eq!(c.autopurge_snap_retain_count, 3);
    assert_eq!(c.autopurge_purge_interval, None);
    assert_eq!(w.len(), 1);
    assert_eq!(
        (w[0].line, w[0].key.as_str()),
        (2, "autopurge.snapRetainCount")
    );
}

#[test]
fn unknown_keys_are_warnings_with_lines() {
    let (_, w) =
        Config::parse("dataDir=/d\nadmin.enableServer=false\nstandaloneEnabled=true").unwrap();
    let keys: Vec<(usize, &str)> = w.iter().map(|w| (w.line, w.key.as_str())).collect();
    assert_eq!(
        keys,
        vec![(2, "admin.enableServer"), (3, "standaloneEnabled")]
    );
}

#[test]
fn bad_values_carry_line_and_key() {
    let cases: &[(&str, &str)] = &[
        ("tickTime=abc", "tickTime"),
        ("tickTime=0", "tickTime"),
        ("tickTime=-5", "tickTime"),
        ("initLimit=0", "initLimit"),
        ("initLimit=x", "initLimit"),
        ("syncLimit=99999999999", "syncLimit"),
        ("dataDir=", "dataDir"),
        ("dataLogDir=", "dataLogDir"),
        ("clientPort=70000", "clientPort"),
        ("clientPort=0", "clientPort"),
        ("clientPortAddress=not-an-ip", "clientPortAddress"),
        ("maxClientCnxns=-1", "maxClientCnxns"),
        ("minSessionTimeout=soon", "minSessionTimeout"),
        ("maxSessionTimeout=-2", "maxSessionTimeout"),
        (
            "autopurge.snapRetainCount=three",
            "autopurge.snapRetainCount",
        ),
        ("autopurge.purgeInterval=-1", "autopurge.purgeInterval"),
        ("4lw.commands.whitelist=ab", "4lw.commands.whitelist"),
        ("server.x=a:1:2", "server.x"),
        ("server.1=a", "server.1"),
        ("server.1=:1:2", "server.1"),
        ("server.1=a:1", "server.1"),
        ("server.1=a:0:2", "server.1"),
        ("server.1=a:1:2:leader", "server.1"),
        ("server.1=a:1:2:observer:9", "server.1"),
        ("server.1=a:1:2;host:2181", "server.1"),
        ("server.1=a:1:2;99999", "server.1"),
        ("server.1=[::1:1:2", "server.1"),
    ];
    for (line, key) in cases {
        let text = format!("# header\ndataDir=/d\n{line}\n");
        assert_eq!(bad(&text), (3, key.to_string()), "{line}");
        let e = Config::parse(&text).unwrap_err().to_string();
        assert!(e.starts_with("line 3: "), "{e}");
    }
}

#[test]
fn syntax_and_missing_and_inconsistent() {
    assert!(matches!(
        Config::parse("dataDir=/d\njust words"),
        Err(ConfigError::Syntax { line: 2, .. })
    ));
    assert!(matches!(
        Config::parse("tickTime=2000"),
        Err(ConfigError::Missing { key: "dataDir" })
    ));
    assert!(matches!(
        Config::parse("dataDir=/d\nsyncLimit=5\nserver.1=a:1:2"),
        Err(ConfigError::Missing { key: "initLimit" })
    ));
    assert!(matches!(
        Config::parse("dataDir=/d\ninitLimit=5\nserver.1=a:1:2"),
        Err(ConfigError::Missing { key: "syncLimit" })
    ));
    assert!(matches!(
        Config::parse("dataDir=/d\nminSessionTimeout=5000\nmaxSessionTimeout=4000"),
        Err(ConfigError::Inconsistent {
            key: "minSessionTimeout",
            ..
        })
    ));
}

#[test]
fn load_reads_myid_from_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fs::create_dir(&data).unwrap();
    let cfg_path = dir.path().join("zoo.cfg");
    fs::write(
        &cfg_path,
        format!(
            "dataDir={}\ninitLimit=5\nsyncLimit=2\nserver.1=a:1:2\nserver.2=b:1:2\n",
            data.display()
        ),
    )
    .unwrap();
    // Ensemble without myid.
    assert!(matches!(
        Config::load(&cfg_path),
        Err(ConfigError::Missing { key: "myid" })
    ));
    fs::write(data.join("myid"), "2\n").unwrap();
    let (c, _) = Config::load(&cfg_path).unwrap();
    assert_eq!(c.myid, Some(ServerId(2)));
    fs::write(data.join("myid"), "7").unwrap();
    assert!(matches!(
        Config::load(&cfg_path),
        Err(ConfigError::Inconsistent { key: "myid", .. })
    ));
    fs::write(data.join("myid"), "two").unwrap();
    assert!(matches!(
        Config::load(&cfg_path),
        Err(ConfigError::MyId { .. })
    ));
    fs::write(data.join("myid"), vec![b'1'; 100]).unwrap();
    assert!(matches!(
        Config::load(&cfg_path),
        Err(ConfigError::MyId { .. })
    ));
    assert!(matches!(
        Config::load(&dir.path().join("missing.cfg")),
        Err(ConfigError::Io { .. })
    ));
}

#[test]
fn standalone_without_myid_is_fine() {
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("zoo.cfg");
    fs::write(&cfg_path, format!("dataDir={}\n", dir.path().display())).unwrap();
    let (c, _) = Config::load(&cfg_path).unwrap();
    assert_eq!(c.myid, None);
}

#[test]
fn storage_options_follow_data_dirs() {
    let c = parse("dataDir=/d\ndataLogDir=/l");
    let o = crate::storage::StorageOptions::from_config(&c);
    assert_eq!(o.data_dir, PathBuf::from("/d"));
    assert_eq!(o.data_log_dir, PathBuf::from("/l"));
    assert_eq!(
        o.preallocate_bytes,
        crate::storage::StorageOptions::PREALLOCATE_BYTES_DEFAULT
    );
}

#[test]
fn pre_alloc_size_is_in_kilobytes_and_zero_turns_it_off() {
    let c = parse("dataDir=/d\npreAllocSize=4096");
    assert_eq!(c.pre_alloc_bytes, Some(4 << 20));
    let o = crate::storage::StorageOptions::from_config(&c);
    assert_eq!(o.preallocate_bytes, 4 << 20);
    let c = parse("dataDir=/d\npreAllocSize=0");
    assert_eq!(
        crate::storage::StorageOptions::from_config(&c).preallocate_bytes,
        0
    );
    assert!(Config::parse("dataDir=/d\npreAllocSize=-1").is_err());
}

#[test]
fn arbor_keys_cluster_id_and_peer_queue() {
    let c = parse("dataDir=/d\narbor.clusterId=0xC0FFEE\narbor.peerQueueMax=64\n");
    assert_eq!(c.cluster_id, Some(0xC0FFEE));
    assert_eq!(c.peer_queue_max, Some(64));
    assert_eq!(
        parse("dataDir=/d\narbor.clusterId=42\n").cluster_id,
        Some(42)
    );
    let d = parse("dataDir=/d\n");
    assert_eq!((d.cluster_id, d.peer_queue_max), (None, None));
    assert_eq!(
        bad("dataDir=/d\narbor.clusterId=0xZZ\n"),
        (2, "arbor.clusterId".into())
    );
    assert_eq!(
        bad("dataDir=/d\narbor.peerQueueMax=0\n"),
        (2, "arbor.peerQueueMax".into())
    );
}

#[test]
fn extended_types_enabled_parses_like_java_boolean() {
    assert!(!parse("dataDir=/d").extended_types_enabled);
    assert!(parse("dataDir=/d\nextendedTypesEnabled=true").extended_types_enabled);
    assert!(parse("dataDir=/d\nextendedTypesEnabled=TRUE").extended_types_enabled);
    assert!(!parse("dataDir=/d\nextendedTypesEnabled=yes").extended_types_enabled);
    assert!(
        !parse("dataDir=/d\nextendedTypesEnabled=true\nextendedTypesEnabled=false")
            .extended_types_enabled
    );
}

#[test]
fn global_outstanding_limit() {
    assert_eq!(
        parse("dataDir=/d\nglobalOutstandingLimit=50\n").global_outstanding_limit,
        Some(50)
    );
    assert_eq!(parse("dataDir=/d\n").global_outstanding_limit, None);
    assert_eq!(
        bad("dataDir=/d\nglobalOutstandingLimit=0\n"),
        (2, "globalOutstandingLimit".to_string())
    );
}
