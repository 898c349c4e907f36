use super::*;

#[tokio::test]
async fn tracker_answers_come_once_and_none_waits_forever() {
    let mut answers = Some(std::future::ready(3));
    assert_eq!(tracker_results(&mut answers).await, 3);
    let mut spent: Option<std::future::Ready<u32>> = None;
    let waited = tokio::time::timeout(Duration::from_millis(50), tracker_results(&mut spent));
    assert!(waited.await.is_err());
}

#[test]
fn reply_and_parse_round_trip() {
    let info: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
    let r = metadata_reply(&info, 2);
    let (head, data) = parse_metadata_msg(&r).unwrap();
    assert_eq!(
        (head.msg_type, head.piece, head.total_size),
        (1, 2, Some(40_000))
    );
    assert_eq!(data, &info[32768..]);
    let reply = metadata_reply(&info, 3);
    let (rej, rest) = parse_metadata_msg(&reply).unwrap();
    assert_eq!(rej.msg_type, 2);
    assert!(rest.is_empty());
    assert_eq!(
        parse_metadata_msg(&metadata_reply(&info, -1))
            .unwrap()
            .0
            .msg_type,
        2
    );
    assert!(parse_metadata_msg(b"d8:msg_typei1e").is_none());
}

/// A hybrid named by one of its hashes, or both, takes its info dictionary; another torrent's,
/// or a link whose other hash is wrong, is refused. The `btmh`-only link's torrent goes on
/// under the hybrid's SHA-1, as its .torrent does.
#[test]
fn a_hybrid_is_taken_under_either_of_its_names() {
    use crate::protocol::magnet::format_magnet;
    let hybrid = Metainfo::from_bytes(include_bytes!(
        "../../../../tests/fixtures/libtorrent-hybrid-private-source.torrent"
    ))
    .unwrap();
    let v2 = hybrid.info_hash_v2.expect("a hybrid has a v2 hash");
    let got = Fetched {
        info: hybrid.info_bytes.to_vec(),
        layers: BTreeMap::new(),
    };
    let link = |v1: Option<&[u8; 20]>, v2: Option<&[u8; 32]>| {
        Magnet::parse(&format_magnet(v1, v2, "h", &[])).unwrap()
    };
    for magnet in [
        link(Some(&hybrid.info_hash), None),
        link(None, Some(&v2)),
        link(Some(&hybrid.info_hash), Some(&v2)),
    ] {
        let meta = metainfo_from_info(&got, &magnet, None).unwrap();
        assert_eq!(meta.info_hash, hybrid.info_hash);
        assert_eq!(meta.info_hash_v2, Some(v2));
    }
    let other = [7u8; 32];
    for magnet in [
        link(None, Some(&other)),
        link(Some(&[7u8; 20]), Some(&v2)),
        link(Some(&hybrid.info_hash), Some(&other)),
    ] {
        assert!(matches!(
            metainfo_from_info(&got, &magnet, None),
            Err(MetadataError::NotTheMagnets)
        ));
    }
}
