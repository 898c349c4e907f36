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
