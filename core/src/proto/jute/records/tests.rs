//! Unit tests for the records, with hand-derived bytes.

use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn stat_is_68_bytes_in_wire_order() {
    let st = Stat {
        czxid: 1,
        mzxid: 2,
        ctime: 3,
        mtime: 4,
        version: 5,
        cversion: 6,
        aversion: 7,
        ephemeral_owner: 8,
        data_length: 9,
        num_children: 10,
        pzxid: 11,
    };
    let b = st.to_bytes();
    assert_eq!(b.len(), 68);
    assert_eq!(&b[32..36], &[0, 0, 0, 5]);
    assert_eq!(&b[60..68], &[0, 0, 0, 0, 0, 0, 0, 11]);
    assert_eq!(Stat::from_bytes(&b), Ok(st));
    assert_eq!(
        Stat::from_bytes(&b[..67]),
        Err(DecodeError::Truncated { at: 60, need: 1 })
    );
}

#[test]
fn create_request_hand_bytes() {
    // path "/a", data "x", acl [31 world anyone], flags 3
    let bytes = hex(concat!(
        "000000022f61",
        "0000000178",
        "00000001",
        "0000001f",
        "00000005776f726c64",
        "00000006616e796f6e65",
        "00000003"
    ));
    let req = CreateRequest::from_bytes(&bytes).unwrap();
    assert_eq!(req.path, "/a");
    assert_eq!(req.data.as_deref(), Some(&b"x"[..]));
    assert_eq!(req.acl, Acl::open_unsafe());
    assert_eq!(req.flags, 3);
    assert_eq!(req.to_bytes(), bytes);
}

#[test]
fn min_len_bounds_acl_vector_counts() {
    assert_eq!(CreateRequest::MIN_LEN, 16);
    assert_eq!(Create2Response::MIN_LEN, 72);
    // Count 2 ACLs needs at least 24 bytes; give 20.
    let mut bytes = hex("00000002");
    bytes.extend_from_slice(&[0; 20]);
    assert!(matches!(
        Vec::<Acl>::from_bytes(&bytes),
        Err(DecodeError::LengthExceedsInput { len: 2, .. })
    ));
}

#[test]
fn reconfig_keeps_null_strings() {
    let bytes = hex("ffffffff00000000000000016affffffffffffffff");
    let req = ReconfigRequest::from_bytes(&bytes).unwrap();
    assert_eq!(req.joining_servers, None);
    assert_eq!(req.leaving_servers.as_deref(), Some(""));
    assert_eq!(req.new_members.as_deref(), Some("j"));
    assert_eq!(req.cur_config_id, -1);
    assert_eq!(req.to_bytes(), bytes);
}

#[test]
fn set_watches2_hand_bytes() {
    let bytes = hex(concat!(
        "0000000000000070",
        "00000001000000022f64",
        "00000000",
        "ffffffff",
        "00000001000000022f70",
        "00000002000000022f72000000032f7232"
    ));
    let sw = SetWatches2::from_bytes(&bytes).unwrap();
    assert_eq!(sw.relative_zxid, Zxid(0x70));
    assert_eq!(sw.data_watches, vec!["/d".to_owned()]);
    assert!(sw.exist_watches.is_empty());
    assert!(sw.child_watches.is_empty(), "null vector reads as empty");
    assert_eq!(sw.persistent_watches, vec!["/p".to_owned()]);
    assert_eq!(
        sw.persistent_recursive_watches,
        vec!["/r".to_owned(), "/r2".to_owned()]
    );
    assert!(SetWatches2::from_bytes(&bytes[..bytes.len() - 1]).is_err());
}

#[test]
fn watcher_event_and_bad_utf8_path() {
    let ok = hex("0000000300000003000000062f7665632f70");
    let ev = WatcherEvent::from_bytes(&ok).unwrap();
    assert_eq!(
        (ev.event_type, ev.state, ev.path.as_str()),
        (3, 3, "/vec/p")
    );
    let bad = hex("000000030000000300000001ff");
    assert_eq!(
        WatcherEvent::from_bytes(&bad),
        Err(DecodeError::BadUtf8 { at: 12 })
    );
}
