use super::*;
use std::net::Ipv4Addr;

fn addr(i: u8) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, i), 6881)
}

/// An in-memory network of our own nodes: delivers every queued datagram until quiet.
struct Net {
    nodes: Vec<(SocketAddrV4, Node)>,
}

impl Net {
    fn new(n: u8, now: Instant) -> Net {
        let nodes = (1..=n)
            .map(|i| (addr(i), Node::new(NodeConfig::new(NodeId::random()), now)))
            .collect();
        Net { nodes }
    }
    fn run(&mut self, now: Instant) {
        for _ in 0..1000 {
            let mut moved = false;
            for i in 0..self.nodes.len() {
                let from = self.nodes[i].0;
                for (buf, to) in self.nodes[i].1.take_outgoing() {
                    moved = true;
                    if let Some((_, n)) = self
                        .nodes
                        .iter_mut()
                        .find(|(a, _)| SocketAddr::V4(*a) == to)
                    {
                        n.handle(&buf, SocketAddr::V4(from), now);
                    }
                }
            }
            if !moved {
                return;
            }
        }
        panic!("the network never went quiet");
    }
}

#[test]
fn nodes_join_through_one_seed_and_find_an_announced_peer() {
    let now = Instant::now();
    let mut net = Net::new(12, now);
    // Everyone bootstraps from node 1.
    for i in 1..net.nodes.len() {
        net.nodes[i].1.bootstrap(vec![addr(1)], now);
        net.run(now);
    }
    for (a, n) in &net.nodes {
        assert!(n.table().len() >= 3, "{a} knows only {}", n.table().len());
    }
    let hash = NodeId::random();
    // Node 5 announces port 7000, node 9 looks it up.
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    net.nodes[4].1.get_peers(hash, Some(7000), tx, now);
    net.run(now);
    assert_eq!(net.nodes[4].1.stats().lookups, 0, "lookup did not finish");
    let stored: usize = net.nodes.iter().map(|(_, n)| n.stats().stored_peers).sum();
    assert!(stored >= 1, "nobody stored the announce");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    net.nodes[8].1.get_peers(hash, None, tx, now);
    net.run(now);
    let mut found = Vec::new();
    while let Ok(p) = rx.try_recv() {
        found.push(p);
    }
    assert_eq!(
        found,
        vec![SocketAddr::V4(SocketAddrV4::new(*addr(5).ip(), 7000))]
    );
}

#[test]
fn announce_with_a_bad_token_is_refused() {
    let now = Instant::now();
    let mut n = Node::new(NodeConfig::new(NodeId([1; 20])), now);
    let q = Krpc {
        tid: vec![1],
        version: None,
        ip: None,
        body: Body::Query {
            id: NodeId([2; 20]),
            query: Query::AnnouncePeer {
                info_hash: NodeId([3; 20]),
                port: 1,
                implied_port: false,
                token: b"forged".to_vec(),
            },
            read_only: true,
        },
    };
    n.handle(&q.encode(), SocketAddr::V4(addr(2)), now);
    let out = n.take_outgoing();
    assert_eq!(out.len(), 1);
    let reply = Krpc::decode(&out[0].0).expect("our reply decodes");
    assert!(matches!(reply.body, Body::Error { code: 203, .. }));
    assert_eq!(n.stats().stored_peers, 0);
}

#[test]
fn pending_queries_time_out_and_mark_failures() {
    let now = Instant::now();
    let mut n = Node::new(NodeConfig::new(NodeId::random()), now);
    n.bootstrap(vec![addr(50)], now);
    assert_eq!(n.stats().pending, 1);
    n.tick(now + PENDING_TIMEOUT);
    assert_eq!(n.stats().pending, 0);
    assert_eq!(n.stats().lookups, 0);
    // The pending table is bounded: a node asked to ping thousands sends at most the cap.
    for i in 0..5000u32 {
        n.ping(SocketAddrV4::new(Ipv4Addr::from(0x0a00_0000 + i), 1), now);
    }
    assert_eq!(
        n.stats().pending,
        NodeConfig::new(NodeId::random()).max_pending
    );
}

#[test]
fn a_flood_and_garbage_from_one_address_are_dropped_within_caps() {
    let now = Instant::now();
    let cfg = NodeConfig::new(NodeId::random());
    let burst = cfg.rate_burst as u64;
    let mut n = Node::new(cfg, now);
    let q = |i: u32| Krpc {
        tid: i.to_be_bytes().to_vec(),
        version: None,
        ip: None,
        body: Body::Query {
            id: NodeId::random(),
            query: Query::GetPeers {
                info_hash: NodeId::random(),
            },
            read_only: false,
        },
    };
    let flooder = SocketAddr::V4(addr(66));
    for i in 0..10_000u32 {
        // Ten thousand queries within one second.
        let t = now + Duration::from_micros(u64::from(i) * 100);
        n.handle(&q(i).encode(), flooder, t);
    }
    let s = n.stats();
    assert!(s.answered <= burst + 20, "answered {}", s.answered);
    assert!(s.rate_limited >= 9_900);
    assert!(
        s.pending <= 1,
        "one verification ping at most, got {}",
        s.pending
    );
    assert!(n.take_outgoing().len() as u64 <= 2 * (burst + 20));
    // Garbage from many addresses: counted, dropped, nothing stored.
    let junk: [&[u8]; 4] = [b"d1:y1:q", b"\xff\x00", b"d1:t2:aa1:y1:qe", b"li1ee"];
    for i in 0..4000u32 {
        let from = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(0x0b00_0000 + i), 9));
        n.handle(junk[i as usize % 4], from, now);
    }
    let s = n.stats();
    assert_eq!(s.malformed, 4000);
    assert!(s.limiter_entries <= 4096);
    assert_eq!((s.stored_hashes, s.nodes), (0, 0));
    // The node still answers a well-behaved neighbour.
    n.handle(&q(1).encode(), SocketAddr::V4(addr(7)), now);
    assert!(n
        .take_outgoing()
        .iter()
        .any(|(_, to)| *to == SocketAddr::V4(addr(7))));
}

#[test]
fn unknown_method_gets_error_204() {
    let now = Instant::now();
    let mut n = Node::new(NodeConfig::new(NodeId([1; 20])), now);
    n.handle(
        b"d1:ad2:id20:abcdefghij0123456789e1:q6:frobny1:t1:x1:y1:qe",
        SocketAddr::V4(addr(3)),
        now,
    );
    let out = n.take_outgoing();
    let reply = Krpc::decode(&out[0].0).expect("decodes");
    assert!(matches!(reply.body, Body::Error { code: 204, .. }));
    assert_eq!(reply.tid, b"x");
}

#[test]
fn bootstrap_is_retried_with_backoff_while_alone() {
    let now = Instant::now();
    let mut n = Node::new(NodeConfig::new(NodeId::random()), now);
    n.bootstrap(vec![addr(50)], now);
    n.take_outgoing();
    // The router never answers: the query times out and the self-lookup ends.
    n.tick(now + PENDING_TIMEOUT);
    assert_eq!((n.stats().pending, n.stats().lookups), (0, 0));
    // Five seconds after the first try it asks again, then waits ten seconds.
    n.tick(now + BOOTSTRAP_RETRY_MIN);
    assert_eq!(n.take_outgoing().len(), 1);
    n.tick(now + BOOTSTRAP_RETRY_MIN + PENDING_TIMEOUT);
    n.tick(now + BOOTSTRAP_RETRY_MIN * 2);
    assert!(n.take_outgoing().is_empty());
    n.tick(now + BOOTSTRAP_RETRY_MIN * 3);
    assert_eq!(n.take_outgoing().len(), 1);
}

fn get_peers_query(i: u32) -> Vec<u8> {
    Krpc {
        tid: i.to_be_bytes().to_vec(),
        version: None,
        ip: None,
        body: Body::Query {
            id: NodeId::random(),
            query: Query::GetPeers {
                info_hash: NodeId::random(),
            },
            read_only: false,
        },
    }
    .encode()
}

/// The per-address limit holds against one sender; the replies budget against thousands:
/// what goes out (replies and verifying pings together) stays within the budget, and a node
/// of our routing table is still answered in the middle of it.
#[test]
fn a_flood_from_many_addresses_is_answered_within_the_byte_budget() {
    let t0 = Instant::now();
    let mut n = Node::new(NodeConfig::new(NodeId::random()), t0);
    // A populated table, so replies carry nodes (the amplification the issue measured).
    let friend = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 200), 6881);
    let friend_id = NodeId::random();
    n.table.heard_from(friend_id, friend, t0);
    for i in 0..40u32 {
        let a = SocketAddrV4::new(Ipv4Addr::from(0x0a01_0000 + i), 6881);
        n.table.heard_from(NodeId::random(), a, t0);
    }
    let budget = f64::from(budget::DEFAULT_REPLY_BUDGET);
    let (mut sent, mut datagrams) = (0f64, 0u64);
    // 100,000 queries from 2,000 addresses in five seconds.
    for i in 0..100_000u32 {
        let now = t0 + Duration::from_micros(u64::from(i) * 50);
        let from = SocketAddrV4::new(Ipv4Addr::from(0x7f00_0100 + i % 2000), 6881);
        n.handle(&get_peers_query(i), SocketAddr::V4(from), now);
        for (buf, _) in n.take_outgoing() {
            sent += (buf.len() + budget::HEADER_BYTES) as f64;
            datagrams += 1;
        }
    }
    let end = t0 + Duration::from_secs(5);
    let bound = budget * 6.0;
    assert!(sent <= bound, "sent {sent} bytes, budget {bound}");
    assert!(datagrams > 50, "the budget was not used: {datagrams}");
    let s = n.stats();
    assert!(s.budget_dropped > 50_000, "{s:?}");
    // A report for the log, then none until a minute has passed.
    let (dropped, per_sec) = n.budget_report(end).expect("a report");
    assert_eq!(per_sec, budget::DEFAULT_REPLY_BUDGET);
    assert!(dropped.datagrams > 0);
    assert!(n.budget_report(end + Duration::from_secs(1)).is_none());
    // Strangers have spent all but the reserve: our neighbour is still answered.
    let q = Krpc {
        tid: b"ok".to_vec(),
        version: None,
        ip: None,
        body: Body::Query {
            id: friend_id,
            query: Query::FindNode {
                target: NodeId::random(),
            },
            read_only: false,
        },
    };
    let mut refused = false;
    for i in 0..100 {
        n.handle(&get_peers_query(i), SocketAddr::V4(addr(99)), end);
        if n.take_outgoing().is_empty() {
            refused = true;
            break;
        }
    }
    assert!(
        refused,
        "strangers are still answered at the end of the flood"
    );
    n.handle(&q.encode(), SocketAddr::V4(friend), end);
    let out = n.take_outgoing();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1, SocketAddr::V4(friend));
}
