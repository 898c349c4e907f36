//! The session's totals on top of the list, and the filter bar under them. Only what the
//! session reports: no cell for a figure it does not have (free space); a rate's limit and
//! turtle mode only when they are on.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::Span;

use crate::engine::api::SessionSnapshot;
use crate::fmt;
use crate::ui::app::App;
use crate::ui::theme::Theme;
use crate::ui::widgets::{put_line, span};

use super::words::Filter;

fn width_of(spans: &[Span<'_>]) -> usize {
    spans.iter().map(|s| s.width()).sum()
}

pub fn render(area: Rect, buf: &mut Buffer, session: &SessionSnapshot, app: &App) {
    let theme = &app.theme;
    let bold = Modifier::BOLD;
    let n = session.torrents.len();
    let mut line = vec![
        span(
            format!(" {n} torrent{}", if n == 1 { "" } else { "s" }),
            ratatui::style::Style::new().add_modifier(bold),
        ),
        span("  ↓ ", theme.down()),
        span(
            fmt::rate(session.down_rate),
            theme.down().add_modifier(bold),
        ),
    ];
    if session.down_limit > 0 {
        line.push(span(
            format!(" of {}", fmt::rate(session.down_limit as f64)),
            theme.dim(),
        ));
    }
    line.push(span("  ↑ ", theme.up()));
    line.push(span(
        fmt::rate(session.up_rate),
        theme.up().add_modifier(bold),
    ));
    if session.up_limit > 0 {
        line.push(span(
            format!(" of {}", fmt::rate(session.up_limit as f64)),
            theme.dim(),
        ));
    }
    if session.turtle {
        line.push(span("  turtle mode", theme.warn().add_modifier(bold)));
    }
    line.extend([
        span("  ratio ", theme.dim()),
        Span::raw(format!("{:.2}", session.ratio())),
    ]);
    match session.dht_nodes {
        Some(nodes) => {
            line.push(span("  DHT ", theme.dim()));
            line.push(Span::raw(format!("{nodes} nodes")));
            // The IPv6 share only once there is one: an IPv4-only machine sees no change.
            if let Some(n6) = session.dht_nodes6.filter(|n| *n > 0) {
                line.push(span(format!(" ({n6} IPv6)"), theme.dim()));
            }
        }
        None => line.push(span("  DHT off", theme.dim())),
    }
    // Short: how many peers the blocklist refused; a failed update is a warning (the
    // older list stays in force).
    if let Some(b) = &session.blocklist {
        line.push(span("  blocked ", theme.dim()));
        line.push(Span::raw(b.blocked().to_string()));
        if b.error.is_some() {
            line.push(span(" (list update failed)", theme.warn()));
        }
    }
    put_line(buf, area, 0, line);

    // Line 2: whether anyone can reach us, then where torrents go.
    let mut line = vec![Span::raw(" ")];
    if let Some(err) = &session.save_error {
        line.push(span(
            format!("resume data not saved: {} · ", fmt::outside(err, 200)),
            theme.error().add_modifier(bold),
        ));
    }
    // The kill switch first: while it holds, nothing else on this line matters.
    if let Some(i) = &session.interface {
        match i.down_line() {
            Some(l) => line.push(span(
                format!("{} · ", fmt::outside(&l, 120)),
                theme.error().add_modifier(bold),
            )),
            None => line.push(span(
                format!("via {} · ", fmt::outside(&i.name, 20)),
                theme.dim(),
            )),
        }
    }
    if let Some(p) = &session.proxy {
        // Through a CONNECT proxy nobody can reach us, whatever we listen on.
        if let Some(e) = &p.down {
            line.push(span(
                format!("proxy down: {} · ", fmt::outside(e, 120)),
                theme.error().add_modifier(bold),
            ));
        }
        line.push(Span::raw(format!("proxy {}", fmt::outside(&p.url, 60))));
        // Without its UDP relay nothing of the DHT, uTP or UDP trackers leaves at all.
        match &p.udp_off {
            Some(_) => line.push(span(
                ": proxy carries no UDP: DHT and uTP off, not reachable",
                theme.warn(),
            )),
            None => line.push(span(": UDP through it, not reachable", theme.dim())),
        }
    } else if session.listen_port == 0 {
        line.push(span(
            "not listening: nobody can connect to us, so fewer peers",
            theme.warn(),
        ));
    } else if session.incoming == 0 {
        // Every session starts so, reachable or not: plain words, not a warning. Whether
        // the port is closed is the explainer's to say, after its 30 minutes with peers.
        line.push(Span::raw(format!("port {}", session.listen_port)));
        line.push(span(", no incoming connection yet", theme.dim()));
    } else {
        line.push(Span::raw(format!("port {}", session.listen_port)));
        line.push(span(
            format!(", {} incoming", session.incoming),
            theme.verified(),
        ));
    }
    if let Some(words) = session.families.words() {
        line.push(span(format!(" · {words}"), theme.dim()));
    }
    if session.listen_port != 0 {
        port_mapping(&mut line, session, theme);
    }
    let room = usize::from(area.width).saturating_sub(width_of(&line) + 13);
    if room >= 8 {
        let path = session.default_save_path.to_string_lossy();
        let path = fmt::outside(&path, room).into_owned();
        line.push(span(" · saving to ", theme.dim()));
        line.push(Span::raw(path));
    }
    put_line(buf, area, 1, line);
}

/// " all 7  downloading 2 … " with the current filter reversed, and the chosen label and
/// the search on the right.
pub fn render_bar(area: Rect, buf: &mut Buffer, counts: &[usize; 6], app: &App) {
    if area.height == 0 {
        return;
    }
    let theme = &app.theme;
    let list = &app.list;
    let mut search: Vec<Span> = Vec::new();
    if let Some(label) = &list.label {
        let text = fmt::outside(label, usize::from(area.width / 4)).into_owned();
        search.push(span(" label ", theme.key()));
        search.push(span(text, theme.accent().add_modifier(Modifier::BOLD)));
        search.push(span(" ", theme.accent()));
    }
    if list.searching || !list.search.is_empty() {
        let cursor = if list.searching { "▏" } else { " " };
        let text = fmt::outside(&list.search, usize::from(area.width / 2)).into_owned();
        search.extend([
            span(" / ", theme.key()),
            span(text, theme.accent().add_modifier(Modifier::BOLD)),
            span(cursor, theme.accent()),
        ]);
    }
    let room = usize::from(area.width).saturating_sub(width_of(&search));
    let items = |short: bool| -> Vec<Span> {
        Filter::ALL
            .iter()
            .zip(counts)
            .map(|(f, n)| {
                let label = match (short, f) {
                    (true, Filter::Downloading) => "down",
                    (true, Filter::Seeding) => "seed",
                    _ => f.label(),
                };
                let style = if *f == list.filter {
                    theme.title(true)
                } else {
                    theme.dim()
                };
                span(format!(" {label} {n} "), style)
            })
            .collect()
    };
    let mut spans = items(false);
    if width_of(&spans) > room {
        spans = items(true);
    }
    // Whole items only: drop from the end rather than cut one.
    while width_of(&spans) > room && spans.len() > 1 {
        spans.pop();
    }
    let pad = room.saturating_sub(width_of(&spans));
    spans.push(Span::raw(" ".repeat(pad)));
    spans.extend(search);
    put_line(buf, area, 0, spans);
}

/// Where the router forwards to us, when port mapping is on: the external address and port
/// peers dial and the protocol that got them, or that the router refused (the explainer has
/// its answer). A router that gave another port than ours (UPnP's conflict, error 718, or a
/// NAT-PMP router's choice) says so, since that is the port to open in a firewall.
fn port_mapping(line: &mut Vec<Span<'static>>, session: &SessionSnapshot, theme: &Theme) {
    let Some(m) = &session.port_mapping else {
        return;
    };
    match (m.external(), &m.error) {
        (_, Some(_)) => line.push(span(" · port mapping failed", theme.warn())),
        (Some(ext), None) => {
            line.push(span(" · mapped to ", theme.dim()));
            line.push(Span::raw(ext.to_string()));
            if let Some(p) = &m.protocol {
                line.push(span(format!(" by {p}"), theme.dim()));
            }
            if let Some(tcp) = m.tcp.as_ref().filter(|t| t.external != t.internal) {
                line.push(span(
                    format!(" (port {} was not free)", tcp.internal),
                    theme.dim(),
                ));
            }
        }
        (None, None) => line.push(span(" · mapping the port…", theme.dim())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::Families;
    use crate::ui::theme::Theme;

    fn text(session: &SessionSnapshot) -> String {
        let app = App::for_session(std::path::PathBuf::new(), Theme::plain());
        let area = Rect::new(0, 0, 120, 2);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, session, &app);
        (0..area.height)
            .flat_map(|y| (0..area.width).map(move |x| (x, y)))
            .map(|(x, y)| buf[(x, y)].symbol().to_string())
            .collect()
    }

    #[test]
    fn limits_and_turtle_mode_show_only_when_on() {
        let mut s = SessionSnapshot::default();
        let plain = text(&s);
        assert!(
            !plain.contains(" of ") && !plain.contains("turtle"),
            "{plain}"
        );
        s.down_limit = 2 << 20;
        s.up_limit = 500 << 10;
        s.turtle = true;
        let limited = text(&s);
        assert!(limited.contains("of 2 MiB/s"), "{limited}");
        assert!(limited.contains("of 500 KiB/s"), "{limited}");
        assert!(limited.contains("turtle mode"), "{limited}");
    }

    #[test]
    fn the_blocklist_shows_only_when_set() {
        let mut s = SessionSnapshot::default();
        assert!(!text(&s).contains("blocked"));
        s.blocklist = Some(crate::engine::api::BlocklistStatus {
            refused_incoming: 2,
            refused_dials: 5,
            ..Default::default()
        });
        assert!(text(&s).contains("blocked 7"), "{}", text(&s));
        s.blocklist.as_mut().unwrap().error = Some("bad".into());
        assert!(text(&s).contains("update failed"), "{}", text(&s));
    }

    #[test]
    fn the_dht_shows_its_ipv6_nodes_once_it_has_some() {
        let mut s = SessionSnapshot {
            dht_nodes: Some(40),
            dht_nodes6: Some(0),
            ..Default::default()
        };
        assert!(text(&s).contains("DHT 40 nodes") && !text(&s).contains("IPv6"));
        s.dht_nodes6 = Some(7);
        assert!(text(&s).contains("DHT 40 nodes (7 IPv6)"), "{}", text(&s));
        s.dht_nodes = None;
        assert!(text(&s).contains("DHT off"), "{}", text(&s));
    }

    #[test]
    fn the_families_in_use_are_named_once_known() {
        let mut s = SessionSnapshot {
            listen_port: 6881,
            ..Default::default()
        };
        assert!(!text(&s).contains("IPv"), "{}", text(&s));
        s.families = Families {
            ipv4: true,
            ipv6: false,
        };
        assert!(text(&s).contains("IPv4 only"), "{}", text(&s));
        s.families.ipv6 = true;
        assert!(text(&s).contains("IPv4 and IPv6"), "{}", text(&s));
    }

    #[test]
    fn the_interface_says_when_it_is_down() {
        let mut s = SessionSnapshot {
            listen_port: 6881,
            ..Default::default()
        };
        assert!(!text(&s).contains("interface"));
        s.interface = Some(crate::engine::api::InterfaceStatus {
            name: "wg0".into(),
            up: true,
            address: Some("10.2.0.2".parse().unwrap()),
            down: None,
        });
        assert!(text(&s).contains("via wg0"), "{}", text(&s));
        let i = s.interface.as_mut().unwrap();
        (i.up, i.address, i.down) = (false, None, Some("missing".into()));
        let t = text(&s);
        assert!(t.contains("interface wg0 is down: nothing is sent"), "{t}");
    }

    #[test]
    fn a_proxy_says_what_it_turns_off_and_when_it_is_down() {
        let mut s = SessionSnapshot {
            listen_port: 6881,
            ..Default::default()
        };
        assert!(!text(&s).contains("proxy"));
        s.proxy = Some(crate::engine::api::ProxyStatus {
            url: "socks5://u:***@127.0.0.5:1080".into(),
            ..Default::default()
        });
        let t = text(&s);
        assert!(t.contains("proxy socks5://u:***@127.0.0.5:1080"), "{t}");
        assert!(t.contains("UDP through it, not reachable"), "{t}");
        s.proxy.as_mut().unwrap().udp_off = Some("no UDP association".into());
        let t = text(&s);
        assert!(
            t.contains("proxy carries no UDP: DHT and uTP off, not reachable"),
            "{t}"
        );
        assert!(!t.contains("port 6881"), "{t}");
        s.proxy.as_mut().unwrap().down = Some("cannot reach the proxy".into());
        assert!(
            text(&s).contains("proxy down: cannot reach the proxy"),
            "{}",
            text(&s)
        );
    }

    #[test]
    fn the_port_mapping_shows_the_external_address_or_the_failure() {
        use crate::engine::api::{MappedPort, PortMappingStatus};
        let mut s = SessionSnapshot {
            listen_port: 6881,
            ..Default::default()
        };
        assert!(!text(&s).contains("mapp"), "off: nothing");
        s.port_mapping = Some(PortMappingStatus::default());
        assert!(text(&s).contains("mapping the port"), "{}", text(&s));
        let m = s.port_mapping.as_mut().unwrap();
        m.external_ip = Some("127.0.0.9".parse().unwrap());
        m.tcp = Some(MappedPort {
            internal: 6881,
            external: 40001,
            lifetime: 7200,
        });
        assert!(
            text(&s).contains("mapped to 127.0.0.9:40001 (port 6881 was not free)"),
            "{}",
            text(&s)
        );
        let m = s.port_mapping.as_mut().unwrap();
        m.protocol = Some("NAT-PMP".into());
        m.tcp.as_mut().unwrap().external = 6881;
        assert!(
            text(&s).contains("mapped to 127.0.0.9:6881 by NAT-PMP ·")
                || text(&s)
                    .trim_end()
                    .ends_with("mapped to 127.0.0.9:6881 by NAT-PMP"),
            "{}",
            text(&s)
        );
        s.port_mapping.as_mut().unwrap().error = Some("no answer".into());
        assert!(text(&s).contains("port mapping failed"), "{}", text(&s));
    }
}
