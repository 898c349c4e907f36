//! Peer wire messages (BEP 3, BEP 6 fast extension, BEP 10 extension protocol, BEP 52's hash
//! messages) and their codec.
//!
//! Every frame is `<u32 length><id><payload>`; the decoder refuses a frame longer than its cap
//! before allocating anything, and checks the exact length of every fixed-size message.
//! `Piece` data is a `Bytes` slice of the receive buffer, so a block is never copied on receive.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::merkle::proof::{HashRequest, HEAD_LEN, MAX_RUN};

/// The only block size we request, and the largest we serve or accept.
pub const BLOCK_LEN: u32 = 16 * 1024;

/// Most the decoder reserves ahead of bytes that have arrived: one whole piece frame, so a
/// block still lands in a single allocation.
pub const RESERVE_STEP: usize = 4 + 9 + BLOCK_LEN as usize;

/// The id of BEP 52's `hashes` message, the one frame that may outgrow the 64 KiB cap.
const HASHES_ID: u8 = 22;
/// The largest `hashes` frame: the longest run a request may ask for and a proof up a tree of
/// 2^32 leaves (libtorrent's own bound), after the id and the head.
pub const MAX_HASHES_FRAME: u32 = 1 + HEAD_LEN as u32 + (MAX_RUN + 32) * 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    KeepAlive,
    Choke,
    Unchoke,
    Interested,
    NotInterested,
    Have(u32),
    Bitfield(Bytes),
    Request { index: u32, begin: u32, length: u32 },
    Piece { index: u32, begin: u32, data: Bytes },
    Cancel { index: u32, begin: u32, length: u32 },
    Port(u16),
    // BEP 6
    Suggest(u32),
    HaveAll,
    HaveNone,
    Reject { index: u32, begin: u32, length: u32 },
    AllowedFast(u32),
    // BEP 10
    Extended { id: u8, payload: Bytes },
    // BEP 52: ask for a run of a file's merkle layer, answer it (the run, then the uncle
    // hashes), or say it cannot be answered. Checked against the tree in `merkle::proof`.
    HashRequest(HashRequest),
    Hashes { head: HashRequest, hashes: Bytes },
    HashReject(HashRequest),
}

impl Message {
    pub fn name(&self) -> &'static str {
        match self {
            Message::KeepAlive => "keep-alive",
            Message::Choke => "choke",
            Message::Unchoke => "unchoke",
            Message::Interested => "interested",
            Message::NotInterested => "not interested",
            Message::Have(_) => "have",
            Message::Bitfield(_) => "bitfield",
            Message::Request { .. } => "request",
            Message::Piece { .. } => "piece",
            Message::Cancel { .. } => "cancel",
            Message::Port(_) => "port",
            Message::Suggest(_) => "suggest",
            Message::HaveAll => "have all",
            Message::HaveNone => "have none",
            Message::Reject { .. } => "reject",
            Message::AllowedFast(_) => "allowed fast",
            Message::HashRequest(_) => "hash request",
            Message::Hashes { .. } => "hashes",
            Message::HashReject(_) => "hash reject",
            Message::Extended { .. } => "extended",
        }
    }

    /// Fast-extension messages are a protocol error unless both sides set the fast bit.
    pub fn is_fast_ext(&self) -> bool {
        matches!(
            self,
            Message::Suggest(_)
                | Message::HaveAll
                | Message::HaveNone
                | Message::Reject { .. }
                | Message::AllowedFast(_)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("frame of {0} bytes exceeds the limit")]
    FrameTooLarge(u32),
    #[error("{name} message with length {len}")]
    BadLength { name: &'static str, len: u32 },
    #[error("unknown message id {0}")]
    UnknownId(u8),
    /// The stream failed under the codec. The kind stays so the connection can tell a reset
    /// from another failure; the text is std's own words, as shown before.
    #[error("i/o: {text}")]
    Io {
        kind: std::io::ErrorKind,
        text: String,
    },
}

impl From<std::io::Error> for WireError {
    fn from(e: std::io::Error) -> Self {
        WireError::Io {
            kind: e.kind(),
            text: e.to_string(),
        }
    }
}

/// Codec for the message stream after the handshake.
#[derive(Debug, Clone)]
pub struct MessageCodec {
    max_frame: u32,
}

impl MessageCodec {
    /// `num_pieces` sizes the cap so the largest legal bitfield fits.
    pub fn new(num_pieces: u32) -> Self {
        let bitfield = num_pieces.div_ceil(8) + 1;
        // Piece frames are 9 + 16 KiB; extended messages (metadata pieces, handshakes) stay
        // well under 64 KiB in every client we know.
        MessageCodec {
            max_frame: bitfield.max(64 * 1024),
        }
    }

    pub fn max_frame(&self) -> u32 {
        self.max_frame
    }
}

fn fixed(name: &'static str, len: u32, want: u32) -> Result<(), WireError> {
    if len != want {
        return Err(WireError::BadLength { name, len });
    }
    Ok(())
}

impl Decoder for MessageCodec {
    type Item = Message;
    type Error = WireError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, WireError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([src[0], src[1], src[2], src[3]]);
        if len > self.max_frame {
            // Only a `hashes` frame may be larger, and no larger than its own cap; its id says
            // which it is. Past that cap no id is awaited: a peer that announced such a frame
            // and sent nothing more is refused at once.
            match src.get(4) {
                _ if len > MAX_HASHES_FRAME => return Err(WireError::FrameTooLarge(len)),
                None => return Ok(None),
                Some(&HASHES_ID) => {}
                Some(_) => return Err(WireError::FrameTooLarge(len)),
            }
        }
        let total = 4 + len as usize;
        if src.len() < total {
            // Room for at most one piece frame more than has arrived: a frame is paid for as
            // its bytes come in, so a peer announcing a large frame and sending it slowly (or
            // never) costs what it sent, not what it announced.
            src.reserve((total - src.len()).min(RESERVE_STEP));
            return Ok(None);
        }
        src.advance(4);
        if len == 0 {
            return Ok(Some(Message::KeepAlive));
        }
        let id = src[0];
        let mut body = src.split_to(len as usize);
        body.advance(1);
        let plen = len;
        let msg = match id {
            0 => {
                fixed("choke", plen, 1)?;
                Message::Choke
            }
            1 => {
                fixed("unchoke", plen, 1)?;
                Message::Unchoke
            }
            2 => {
                fixed("interested", plen, 1)?;
                Message::Interested
            }
            3 => {
                fixed("not interested", plen, 1)?;
                Message::NotInterested
            }
            4 => {
                fixed("have", plen, 5)?;
                Message::Have(body.get_u32())
            }
            5 => Message::Bitfield(body.freeze()),
            6 | 8 | 16 => {
                let name = match id {
                    6 => "request",
                    8 => "cancel",
                    _ => "reject",
                };
                fixed(name, plen, 13)?;
                let (index, begin, length) = (body.get_u32(), body.get_u32(), body.get_u32());
                match id {
                    6 => Message::Request {
                        index,
                        begin,
                        length,
                    },
                    8 => Message::Cancel {
                        index,
                        begin,
                        length,
                    },
                    _ => Message::Reject {
                        index,
                        begin,
                        length,
                    },
                }
            }
            7 => {
                if plen < 9 {
                    return Err(WireError::BadLength {
                        name: "piece",
                        len: plen,
                    });
                }
                let index = body.get_u32();
                let begin = body.get_u32();
                Message::Piece {
                    index,
                    begin,
                    data: body.freeze(),
                }
            }
            9 => {
                fixed("port", plen, 3)?;
                Message::Port(body.get_u16())
            }
            13 => {
                fixed("suggest", plen, 5)?;
                Message::Suggest(body.get_u32())
            }
            14 => {
                fixed("have all", plen, 1)?;
                Message::HaveAll
            }
            15 => {
                fixed("have none", plen, 1)?;
                Message::HaveNone
            }
            17 => {
                fixed("allowed fast", plen, 5)?;
                Message::AllowedFast(body.get_u32())
            }
            20 => {
                if plen < 2 {
                    return Err(WireError::BadLength {
                        name: "extended",
                        len: plen,
                    });
                }
                let ext = body.get_u8();
                Message::Extended {
                    id: ext,
                    payload: body.freeze(),
                }
            }
            21 | 23 => {
                let name = if id == 21 {
                    "hash request"
                } else {
                    "hash reject"
                };
                fixed(name, plen, 1 + HEAD_LEN as u32)?;
                let head = hash_head(name, &body)?;
                if id == 21 {
                    Message::HashRequest(head)
                } else {
                    Message::HashReject(head)
                }
            }
            HASHES_ID => {
                let hashes_len = (plen as usize).saturating_sub(1 + HEAD_LEN);
                if (plen as usize) < 1 + HEAD_LEN || !hashes_len.is_multiple_of(32) {
                    return Err(WireError::BadLength {
                        name: "hashes",
                        len: plen,
                    });
                }
                let head = hash_head("hashes", &body)?;
                body.advance(HEAD_LEN);
                Message::Hashes {
                    head,
                    hashes: body.freeze(),
                }
            }
            other => return Err(WireError::UnknownId(other)),
        };
        Ok(Some(msg))
    }
}

/// The head of a hash message whose length was checked already.
fn hash_head(name: &'static str, body: &[u8]) -> Result<HashRequest, WireError> {
    HashRequest::decode(body)
        .map(|(head, _)| head)
        .map_err(|_| WireError::BadLength {
            name,
            len: body.len() as u32 + 1,
        })
}

impl Encoder<Message> for MessageCodec {
    type Error = WireError;

    fn encode(&mut self, msg: Message, dst: &mut BytesMut) -> Result<(), WireError> {
        encode_into(&msg, dst);
        Ok(())
    }
}

/// Appends the wire form of `msg` to `dst`.
pub fn encode_into(msg: &Message, dst: &mut BytesMut) {
    fn simple(dst: &mut BytesMut, id: u8) {
        dst.put_u32(1);
        dst.put_u8(id);
    }
    fn triple(dst: &mut BytesMut, id: u8, a: u32, b: u32, c: u32) {
        dst.put_u32(13);
        dst.put_u8(id);
        dst.put_u32(a);
        dst.put_u32(b);
        dst.put_u32(c);
    }
    fn one(dst: &mut BytesMut, id: u8, v: u32) {
        dst.put_u32(5);
        dst.put_u8(id);
        dst.put_u32(v);
    }
    match msg {
        Message::KeepAlive => dst.put_u32(0),
        Message::Choke => simple(dst, 0),
        Message::Unchoke => simple(dst, 1),
        Message::Interested => simple(dst, 2),
        Message::NotInterested => simple(dst, 3),
        Message::Have(i) => one(dst, 4, *i),
        Message::Bitfield(b) => {
            dst.put_u32(1 + b.len() as u32);
            dst.put_u8(5);
            dst.extend_from_slice(b);
        }
        Message::Request {
            index,
            begin,
            length,
        } => triple(dst, 6, *index, *begin, *length),
        Message::Piece { index, begin, data } => {
            dst.reserve(13 + data.len());
            dst.put_u32(9 + data.len() as u32);
            dst.put_u8(7);
            dst.put_u32(*index);
            dst.put_u32(*begin);
            dst.extend_from_slice(data);
        }
        Message::Cancel {
            index,
            begin,
            length,
        } => triple(dst, 8, *index, *begin, *length),
        Message::Port(p) => {
            dst.put_u32(3);
            dst.put_u8(9);
            dst.put_u16(*p);
        }
        Message::Suggest(i) => one(dst, 13, *i),
        Message::HaveAll => simple(dst, 14),
        Message::HaveNone => simple(dst, 15),
        Message::Reject {
            index,
            begin,
            length,
        } => triple(dst, 16, *index, *begin, *length),
        Message::AllowedFast(i) => one(dst, 17, *i),
        Message::Extended { id, payload } => {
            dst.put_u32(2 + payload.len() as u32);
            dst.put_u8(20);
            dst.put_u8(*id);
            dst.extend_from_slice(payload);
        }
        Message::HashRequest(head) | Message::HashReject(head) => {
            dst.put_u32(1 + HEAD_LEN as u32);
            dst.put_u8(if matches!(msg, Message::HashRequest(_)) {
                21
            } else {
                23
            });
            dst.extend_from_slice(&head.encode());
        }
        Message::Hashes { head, hashes } => {
            dst.put_u32((1 + HEAD_LEN + hashes.len()) as u32);
            dst.put_u8(HASHES_ID);
            dst.extend_from_slice(&head.encode());
            dst.extend_from_slice(hashes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> HashRequest {
        HashRequest {
            pieces_root: [0xab; 32],
            base_layer: 0,
            index: 8,
            length: 4,
            proof_layers: 2,
        }
    }

    #[test]
    fn hash_messages_have_their_own_lengths_and_cap() {
        let mut codec = MessageCodec::new(16);
        // The longest legal `hashes` frame passes the 64 KiB cap; one byte more does not.
        let mut buf = BytesMut::new();
        buf.put_u32(MAX_HASHES_FRAME);
        buf.put_u8(22);
        assert_eq!(codec.decode(&mut buf), Ok(None));
        let mut buf = BytesMut::new();
        buf.put_u32(MAX_HASHES_FRAME + 1);
        buf.put_u8(22);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(WireError::FrameTooLarge(_))
        ));
        // Past the hashes cap a frame is refused before its id arrives.
        let mut buf = BytesMut::new();
        buf.put_u32(u32::MAX);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(WireError::FrameTooLarge(_))
        ));
        // Another id at that size is refused; a large frame waits for its id to be known.
        let mut buf = BytesMut::new();
        buf.put_u32(MAX_HASHES_FRAME);
        assert_eq!(codec.decode(&mut buf), Ok(None));
        buf.put_u8(20);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(WireError::FrameTooLarge(_))
        ));
        // Hashes that are not whole 32-byte hashes, and a request with a byte too many.
        for (id, extra) in [(22u8, 31usize), (21, 1), (23, 4)] {
            let mut buf = BytesMut::new();
            buf.put_u32((1 + HEAD_LEN + extra) as u32);
            buf.put_u8(id);
            buf.extend_from_slice(&head().encode());
            buf.extend_from_slice(&vec![0; extra]);
            assert!(
                matches!(codec.decode(&mut buf), Err(WireError::BadLength { .. })),
                "id {id} with {extra} more bytes"
            );
        }
    }

    fn all() -> Vec<Message> {
        vec![
            Message::KeepAlive,
            Message::Choke,
            Message::Unchoke,
            Message::Interested,
            Message::NotInterested,
            Message::Have(7),
            Message::Bitfield(Bytes::from_static(&[0xff, 0x80])),
            Message::Request {
                index: 1,
                begin: 16384,
                length: 16384,
            },
            Message::Piece {
                index: 2,
                begin: 0,
                data: Bytes::from(vec![9u8; 100]),
            },
            Message::Cancel {
                index: 1,
                begin: 0,
                length: 16384,
            },
            Message::Port(6881),
            Message::Suggest(3),
            Message::HaveAll,
            Message::HaveNone,
            Message::Reject {
                index: 1,
                begin: 0,
                length: 16384,
            },
            Message::AllowedFast(4),
            Message::Extended {
                id: 0,
                payload: Bytes::from_static(b"d1:md6:ut_pexi1eee"),
            },
            Message::HashRequest(head()),
            Message::Hashes {
                head: head(),
                hashes: Bytes::from(vec![7u8; 32 * 6]),
            },
            Message::HashReject(head()),
        ]
    }

    #[test]
    fn round_trip_at_every_split_point() {
        let msgs = all();
        let mut wire = BytesMut::new();
        for m in &msgs {
            encode_into(m, &mut wire);
        }
        let wire = wire.freeze();
        for split in 0..=wire.len() {
            let mut codec = MessageCodec::new(16);
            let mut buf = BytesMut::new();
            let mut out = Vec::new();
            buf.extend_from_slice(&wire[..split]);
            while let Some(m) = codec.decode(&mut buf).unwrap() {
                out.push(m);
            }
            buf.extend_from_slice(&wire[split..]);
            while let Some(m) = codec.decode(&mut buf).unwrap() {
                out.push(m);
            }
            assert_eq!(out, msgs, "split at {split}");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn an_io_error_keeps_its_kind_and_its_words() {
        let e = WireError::from(std::io::Error::from_raw_os_error(libc::ECONNRESET));
        assert!(matches!(
            e,
            WireError::Io {
                kind: std::io::ErrorKind::ConnectionReset,
                ..
            }
        ));
        assert_eq!(
            e.to_string(),
            "i/o: Connection reset by peer (os error 104)"
        );
    }

    #[test]
    fn huge_length_prefix_is_refused_without_allocating() {
        let mut codec = MessageCodec::new(100);
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff, 0][..]);
        assert_eq!(
            codec.decode(&mut buf),
            Err(WireError::FrameTooLarge(u32::MAX))
        );
        assert!(buf.capacity() < 1024);
    }

    #[test]
    fn announced_frame_is_not_reserved_up_front() {
        // A torrent of 4 million pieces allows a 512 KiB bitfield frame.
        let mut codec = MessageCodec::new(4_000_000);
        let len = codec.max_frame();
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&len.to_be_bytes());
        buf.extend_from_slice(&[5, 0xff]);
        assert_eq!(codec.decode(&mut buf), Ok(None));
        assert!(
            buf.capacity() <= 6 + RESERVE_STEP,
            "reserved {} bytes for {} that arrived",
            buf.capacity(),
            buf.len()
        );
        // Fed in slices, the frame still decodes whole.
        let body = vec![0xffu8; len as usize - 2];
        for chunk in body.chunks(7_000) {
            buf.extend_from_slice(chunk);
            if buf.len() < 4 + len as usize {
                assert_eq!(codec.decode(&mut buf), Ok(None));
            }
        }
        match codec.decode(&mut buf) {
            Ok(Some(Message::Bitfield(b))) => assert_eq!(b.len(), len as usize - 1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn exact_lengths_are_checked() {
        let mut codec = MessageCodec::new(100);
        let mut buf = BytesMut::from(&[0, 0, 0, 2, 4, 0][..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(WireError::BadLength { name: "have", .. })
        ));
        let mut buf = BytesMut::from(&[0, 0, 0, 2, 0, 0][..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(WireError::BadLength { name: "choke", .. })
        ));
        let mut buf = BytesMut::from(&[0, 0, 0, 5, 7, 0, 0, 0, 0][..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(WireError::BadLength { name: "piece", .. })
        ));
        let mut buf = BytesMut::from(&[0, 0, 0, 1, 99][..]);
        assert_eq!(codec.decode(&mut buf), Err(WireError::UnknownId(99)));
    }
}
