use super::*;
use crate::protocol::krpc::{Response, Want};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4};

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(127, 0, 0, i), 6881))
}

fn addr6(i: u8) -> SocketAddr {
    SocketAddr::from((Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, u16::from(i)), 6881))
}

/// An in-memory network of our own nodes: delivers every queued datagram until quiet. Node
/// `i` is at `addr(i)` when it uses IPv4 and at `addr6(i)` when it uses IPv6.
struct Net {
    nodes: Vec<(u8, Node)>,
}

impl Net {
    fn new(n: u8, now: Instant) -> Net {
        Net::with(n, |_| Families::V4_ONLY, now)
    }
    fn with(n: u8, families: impl Fn(u8) -> Families, now: Instant) -> Net {
        let nodes = (1..=n)
            .map(|i| {
                let mut cfg = NodeConfig::new(NodeId::random());
                cfg.families = families(i);
                (i, Node::new(cfg, now))
            })
            .collect();
        Net { nodes }
    }
    fn at(i: u8, to: &SocketAddr) -> bool {
        *to == addr(i) || *to == addr6(i)
    }
    fn run(&mut self, now: Instant) {
        for _ in 0..1000 {
            let mut moved = false;
            for k in 0..self.nodes.len() {
                let from_i = self.nodes[k].0;
                for (buf, to) in self.nodes[k].1.take_outgoing() {
                    moved = true;
                    let from = if to.is_ipv4() {
                        addr(from_i)
                    } else {
                        addr6(from_i)
                    };
                    if let Some((_, n)) = self.nodes.iter_mut().find(|(i, _)| Net::at(*i, &to)) {
                        n.handle(&buf, from, now);
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
        let known = n.table(Family::V4).len();
        assert!(known >= 3, "{a} knows only {known}");
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
    assert_eq!(found, vec![SocketAddr::new(addr(5).ip(), 7000)]);
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
    n.handle(&q.encode(), addr(2), now);
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
        n.ping(SocketAddr::from((Ipv4Addr::from(0x0a00_0000 + i), 1)), now);
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
                want: Want::NONE,
            },
            read_only: false,
        },
    };
    let flooder = addr(66);
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
    n.handle(&q(1).encode(), addr(7), now);
    assert!(n.take_outgoing().iter().any(|(_, to)| *to == addr(7)));
}

#[test]
fn unknown_method_gets_error_204() {
    let now = Instant::now();
    let mut n = Node::new(NodeConfig::new(NodeId([1; 20])), now);
    n.handle(
        b"d1:ad2:id20:abcdefghij0123456789e1:q6:frobny1:t1:x1:y1:qe",
        addr(3),
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
                want: Want::NONE,
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
    let friend = SocketAddr::from((Ipv4Addr::new(127, 0, 0, 200), 6881));
    let friend_id = NodeId::random();
    n.table_mut(Family::V4).heard_from(friend_id, friend, t0);
    for i in 0..40u32 {
        let a = SocketAddr::from((Ipv4Addr::from(0x0a01_0000 + i), 6881));
        n.table_mut(Family::V4).heard_from(NodeId::random(), a, t0);
    }
    let budget = f64::from(budget::DEFAULT_REPLY_BUDGET);
    let (mut sent, mut datagrams) = (0f64, 0u64);
    // 100,000 queries from 2,000 addresses in five seconds.
    for i in 0..100_000u32 {
        let now = t0 + Duration::from_micros(u64::from(i) * 50);
        let from = SocketAddr::from((Ipv4Addr::from(0x7f00_0100 + i % 2000), 6881));
        n.handle(&get_peers_query(i), from, now);
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
                want: Want::NONE,
            },
            read_only: false,
        },
    };
    let mut refused = false;
    for i in 0..100 {
        n.handle(&get_peers_query(i), addr(99), end);
        if n.take_outgoing().is_empty() {
            refused = true;
            break;
        }
    }
    assert!(
        refused,
        "strangers are still answered at the end of the flood"
    );
    n.handle(&q.encode(), friend, end);
    let out = n.take_outgoing();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1, friend);
}

/// BEP 32 over the in-memory network: dual-stack nodes, some IPv4-only and some IPv6-only.
/// An IPv6-only node joins through an IPv6 seed, an IPv6-only peer's announce is found by a
/// dual-stack node, and each family's nodes live only in that family's table.
#[test]
fn dual_stack_nodes_fill_both_tables_and_find_ipv6_peers() {
    let now = Instant::now();
    // 1..=8 dual-stack, 9..=10 IPv4 only, 11..=12 IPv6 only.
    let fams = |i: u8| match i {
        9..=10 => Families::V4_ONLY,
        11..=12 => Families {
            v4: false,
            v6: true,
        },
        _ => Families::BOTH,
    };
    let mut net = Net::with(12, fams, now);
    // A second between joins: replies carry both families now, and node 1's replies budget
    // would not answer every joiner within one instant.
    let mut t = now;
    for k in 1..net.nodes.len() {
        t += Duration::from_secs(1);
        // Everyone is told both addresses of node 1; each keeps its own families' seeds.
        net.nodes[k].1.bootstrap(vec![addr(1), addr6(1)], t);
        net.run(t);
    }
    let now = t + Duration::from_secs(2);
    for (i, n) in &net.nodes {
        let (v4, v6) = (n.table(Family::V4), n.table(Family::V6));
        assert!(v4.entries().all(|e| e.addr.is_ipv4()));
        assert!(v6.entries().all(|e| e.addr.is_ipv6()));
        let f = fams(*i);
        assert_eq!(v4.len() > 2, f.v4, "node {i}: {} IPv4 nodes", v4.len());
        assert_eq!(v6.len() > 2, f.v6, "node {i}: {} IPv6 nodes", v6.len());
        assert_eq!(n.stats().nodes6, v6.len());
        // What is saved across a restart holds both tables.
        let saved = n.nodes_to_save(now);
        assert_eq!(saved.len(), v4.len() + v6.len());
        assert_eq!(saved.iter().filter(|c| c.addr.is_ipv6()).count(), v6.len());
    }
    // Node 11 (IPv6 only) announces; node 3 (dual-stack) finds it, over IPv6 only.
    let hash = NodeId::random();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    net.nodes[10].1.get_peers(hash, Some(7000), tx, now);
    net.run(now);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    net.nodes[2].1.get_peers(hash, None, tx, now);
    net.run(now);
    let mut found = Vec::new();
    while let Ok(p) = rx.try_recv() {
        found.push(p);
    }
    assert_eq!(found, vec![SocketAddr::new(addr6(11).ip(), 7000)]);
    // An IPv4-only node finds nothing: the peer is in the IPv6 stores only.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    net.nodes[8].1.get_peers(hash, None, tx, now);
    net.run(now);
    assert!(rx.try_recv().is_err());
}

#[test]
fn answers_follow_the_queriers_family_and_its_want() {
    let now = Instant::now();
    let mut cfg = NodeConfig::new(NodeId([1; 20]));
    cfg.families = Families::BOTH;
    let mut n = Node::new(cfg, now);
    for i in 1..=4u8 {
        n.table_mut(Family::V4)
            .heard_from(NodeId([0x10 + i; 20]), addr(i), now);
        n.table_mut(Family::V6)
            .heard_from(NodeId([0x20 + i; 20]), addr6(i), now);
    }
    let mut ask = |want: Want, from: SocketAddr| -> Response {
        let q = Krpc {
            tid: vec![1],
            version: None,
            ip: None,
            body: Body::Query {
                id: NodeId([9; 20]),
                query: Query::FindNode {
                    target: NodeId([0; 20]),
                    want,
                },
                read_only: true,
            },
        };
        n.handle(&q.encode(), from, now);
        let out = n.take_outgoing();
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].1, from,
            "the reply goes back where the query came from"
        );
        match Krpc::decode(&out[0].0).map(|m| m.body) {
            Ok(Body::Response { r, .. }) => r,
            other => panic!("not a response: {other:?}"),
        }
    };
    let r = ask(Want::NONE, addr(50));
    assert_eq!((r.nodes.len(), r.nodes6.len()), (4, 0));
    let r = ask(Want::NONE, addr6(50));
    assert_eq!((r.nodes.len(), r.nodes6.len()), (0, 4));
    let r = ask(Want::BOTH, addr(51));
    assert_eq!((r.nodes.len(), r.nodes6.len()), (4, 4));
    let only6 = Want {
        n4: false,
        n6: true,
    };
    let r = ask(only6, addr(52));
    assert_eq!((r.nodes.len(), r.nodes6.len()), (0, 4));
}

#[test]
fn without_ipv6_nothing_is_sent_or_answered_over_it() {
    let now = Instant::now();
    let mut n = Node::new(NodeConfig::new(NodeId::random()), now);
    // IPv6 seeds are dropped; an IPv6 ping is not sent; an IPv6 query gets no answer.
    n.bootstrap(vec![addr6(1), addr6(2)], now);
    assert!(!n.ping(addr6(3), now));
    n.handle(&get_peers_query(1), addr6(4), now);
    assert!(n.take_outgoing().is_empty());
    assert_eq!(n.stats().pending, 0);
    // Nor are IPv6 nodes of a reply ever asked, and no `want` goes out.
    n.bootstrap(vec![addr(1)], now);
    let out = n.take_outgoing();
    assert_eq!(out.len(), 1);
    let Ok(Body::Query {
        query: Query::FindNode { want, .. },
        ..
    }) = Krpc::decode(&out[0].0).map(|m| m.body)
    else {
        panic!("not a find_node")
    };
    assert_eq!(want, Want::NONE);
    let reply = Krpc {
        tid: Krpc::decode(&out[0].0).expect("ours").tid,
        version: None,
        ip: None,
        body: Body::Response {
            id: NodeId::random(),
            r: Response {
                nodes6: vec![CompactNode {
                    id: NodeId::random(),
                    addr: addr6(9),
                }],
                ..Response::default()
            },
        },
    };
    n.handle(&reply.encode(), addr(1), now);
    assert!(n.take_outgoing().iter().all(|(_, to)| to.is_ipv4()));
    assert_eq!(n.stats().nodes6, 0);
}

#[test]
fn bep42_the_id_is_regenerated_for_our_external_address_and_the_table_kept() {
    use crate::protocol::krpc::security::id_fits;
    let now = Instant::now();
    let mut n = Node::new(NodeConfig::new(NodeId([1; 20])), now);
    for i in 1..=5 {
        n.tables[Family::V4.index()].heard_from(NodeId([i * 16; 20]), addr(i), now);
    }
    let before = n.table(Family::V4).len();
    // A local address says nothing of how the internet sees us.
    assert!(!n.set_external("192.168.1.2".parse().unwrap(), now));
    assert_eq!(n.id(), NodeId([1; 20]));
    let ext: std::net::IpAddr = "124.31.75.21".parse().unwrap();
    assert!(n.set_external(ext, now));
    assert!(id_fits(&n.id(), ext));
    assert_eq!(n.table(Family::V4).len(), before);
    // Learned again: the id already fits, nothing changes.
    let id = n.id();
    assert!(!n.set_external(ext, now));
    assert_eq!(n.id(), id);
}

/// `n` pings `to`; `to` answers as `id`, saying it saw us at `seen_us`.
fn answer_ping(n: &mut Node, to: SocketAddr, id: NodeId, seen_us: Option<SocketAddr>) {
    let now = Instant::now();
    assert!(n.ping(to, now));
    let out = n.take_outgoing();
    let tid = Krpc::decode(&out[0].0).unwrap().tid;
    let reply = Krpc {
        tid,
        version: None,
        ip: seen_us,
        body: Body::Response {
            id,
            r: Response::default(),
        },
    };
    n.handle(&reply.encode(), to, now);
}

#[test]
fn bep42_a_node_whose_id_does_not_fit_its_address_is_kept_out_of_the_table() {
    use crate::protocol::krpc::security::id_for;
    let now = Instant::now();
    let mut n = Node::new(NodeConfig::new(NodeId([1; 20])), now);
    let liar = SocketAddr::from(([198, 51, 100, 7], 6881));
    answer_ping(&mut n, liar, NodeId([0x77; 20]), None);
    assert_eq!(n.table(Family::V4).len(), 0, "a mismatched id was inserted");
    let honest = SocketAddr::from(([198, 51, 100, 8], 6881));
    answer_ping(&mut n, honest, id_for(honest.ip(), [0x42; 20]), None);
    assert_eq!(n.table(Family::V4).len(), 1);
    // Local addresses are exempt (every loopback DHT test relies on it).
    answer_ping(&mut n, addr(9), NodeId([0x66; 20]), None);
    assert_eq!(n.table(Family::V4).len(), 2);
    // With enforcement off, as before BEP 42.
    let mut cfg = NodeConfig::new(NodeId([1; 20]));
    cfg.enforce_node_id = false;
    let mut off = Node::new(cfg, now);
    answer_ping(&mut off, liar, NodeId([0x77; 20]), None);
    assert_eq!(off.table(Family::V4).len(), 1);
}

#[test]
fn bep42_three_voters_move_our_id_to_the_address_they_saw() {
    use crate::protocol::krpc::security::id_fits;
    let now = Instant::now();
    let mut n = Node::new(NodeConfig::new(NodeId([1; 20])), now);
    let us = SocketAddr::from(([203, 0, 113, 50], 6881));
    // Two nodes that answered say where they saw us: not yet enough.
    for i in 1..=2u8 {
        answer_ping(&mut n, addr(i), NodeId([i; 20]), Some(us));
    }
    assert_eq!(n.id(), NodeId([1; 20]));
    // The same voter twice counts once; a third distinct one decides.
    answer_ping(&mut n, addr(2), NodeId([2; 20]), Some(us));
    assert_eq!(n.id(), NodeId([1; 20]));
    assert!(n.vote_external(us.ip(), "127.0.0.3".parse().unwrap(), now));
    assert!(id_fits(&n.id(), us.ip()));
    // Local addresses are never voted for; a flood of candidates stays bounded.
    assert!(!n.vote_external(
        "10.0.0.1".parse().unwrap(),
        "127.0.0.4".parse().unwrap(),
        now
    ));
    for i in 0..1000u32 {
        n.vote_external(
            std::net::Ipv4Addr::from(0x0800_0000 + i).into(),
            "127.0.0.5".parse().unwrap(),
            now,
        );
    }
    assert!(n.votes.len() <= VOTE_CANDIDATES);
}

/// libtorrent with `dht_enforce_node_id` answers a query from an id that does not fit our
/// address with error 203 "invalid node ID" and its `ip` key: errors to our own queries vote
/// as replies do, and once the id fits, the node asks its bootstrap nodes again at once.
#[test]
fn bep42_an_enforcing_nodes_errors_vote_and_the_node_rejoins_at_once() {
    use crate::protocol::krpc::security::id_fits;
    let now = Instant::now();
    let start = NodeId([1; 20]);
    let mut n = Node::new(NodeConfig::new(start), now);
    let us = SocketAddr::from(([203, 0, 113, 50], 6881));
    let refusal = |tid: Vec<u8>| Krpc {
        tid,
        version: None,
        ip: Some(us),
        body: Body::Error {
            code: 203,
            message: "invalid node ID".into(),
        },
    };
    // Errors nobody asked for are no votes, whoever sends them.
    for i in 1..=3u8 {
        let stranger = SocketAddr::from(([198, 51, 100, 100 + i], 6881));
        n.handle(&refusal(vec![0, i]).encode(), stranger, now);
    }
    assert_eq!(n.id(), start);
    let seeds: Vec<SocketAddr> = (1..=3u8)
        .map(|i| SocketAddr::from(([198, 51, 100, i], 6881)))
        .collect();
    n.bootstrap(seeds.clone(), now);
    let asked = n.take_outgoing();
    assert_eq!(asked.len(), seeds.len());
    for (buf, to) in asked {
        let tid = Krpc::decode(&buf).unwrap().tid;
        n.handle(&refusal(tid).encode(), to, now);
    }
    assert!(
        id_fits(&n.id(), us.ip()),
        "three refusals did not move the id"
    );
    assert_eq!(n.external(), Some(us.ip()));
    // The next tick asks every seed again, with the new id (not after the 5 s back-off).
    let later = now + Duration::from_millis(500);
    n.tick(later);
    let again = n.take_outgoing();
    for s in &seeds {
        let q = again.iter().find(|(_, to)| to == s);
        let q = q.map(|(buf, _)| Krpc::decode(buf).unwrap().body);
        assert!(
            matches!(q, Some(Body::Query { id, .. }) if id == n.id()),
            "{s} not asked again: {again:?}"
        );
    }
}
