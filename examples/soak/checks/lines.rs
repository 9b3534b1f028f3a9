//! Every healthy client got every line of its room, in order: compared
//! with the transcript tag by tag, number by number for those with a
//! session, and with what each healthy room mate says it sent.

use std::collections::{BTreeMap, BTreeSet};

use super::{Check, Evidence};
use crate::clients::healthy::HealthyReport;
use crate::mix::{Kind, Tag};
use crate::transcript::RoomLine;

/// Every healthy client got every line its room heard, in order, and
/// nothing else went wrong for it.
pub(super) fn healthy_lines(e: &Evidence) -> Check {
    let mut failures = Vec::new();
    let ends = room_ends(e);
    let (mut tags, mut numbers) = (0usize, 0usize);
    for h in &e.healthy {
        let name = &h.member.name;
        if !h.seated {
            failures.push(format!("{name} was never seated: {:?}", h.errors));
            continue;
        }
        if let Some(skip) = h.skips.first() {
            failures.push(format!(
                "{name} got `{skip}` ({} skip notices)",
                h.skips.len()
            ));
        }
        if let Some(error) = h.errors.first() {
            failures.push(format!("{name} got `{error}` ({} in all)", h.errors.len()));
        }
        let room = e
            .transcript
            .rooms
            .get(h.member.room)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let end = ends.get(h.member.room).copied().unwrap_or(0);
        let heard = |l: &&RoomLine| l.line <= end && l.tag.is_some_and(|t| t.who != h.member.who);
        let expected: Vec<Tag> = room.iter().filter(heard).filter_map(|l| l.tag).collect();
        tags += expected.len();
        let got = within(&h.tags, &expected);
        if let Some(problem) = compare_tags(&expected, got, e.transcript.dropped > 0) {
            failures.push(format!("{name} in {}: {problem}", h.member.room));
        }
        for problem in from_each_mate(h, &e.healthy) {
            failures.push(format!("{name} in {}: {problem}", h.member.room));
        }
        if let Some(start) = h.session_start {
            let (checked, problem) = compare_numbers(h, room, start, end);
            numbers += checked;
            if let Some(problem) = problem {
                failures.push(format!("{name} in {} (numbered): {problem}", h.member.room));
            }
        }
    }
    let class = crate::mix::count(Kind::Healthy);
    if e.healthy.len() != class {
        failures.push(format!(
            "only {} of the {class} healthy clients' threads finished (a soak thread panicked)",
            e.healthy.len()
        ));
    }
    let sessions = e
        .healthy
        .iter()
        .filter(|h| h.session_start.is_some())
        .count();
    Check::new(
        "every healthy client got every line of its room, in order",
        failures,
        format!(
            "{} healthy clients; {tags} chat lines and actions checked one by one against \
             the transcript, in order; {numbers} numbered room lines checked for the {sessions} \
             with a session; no `lines skipped`, no `!` line; the transcript dropped {} records",
            e.healthy.len(),
            e.transcript.dropped
        ),
    )
}

/// For each room, the number of the last line the checks look at: the
/// last of the healthy clients' final (`done`) lines there.
fn room_ends(e: &Evidence) -> BTreeMap<&'static str, u64> {
    let mut last: BTreeMap<u32, Tag> = BTreeMap::new();
    for h in &e.healthy {
        last.insert(
            h.member.who,
            Tag {
                who: h.member.who,
                n: h.sent,
            },
        );
    }
    let mut ends = BTreeMap::new();
    for h in &e.healthy {
        let room = e
            .transcript
            .rooms
            .get(h.member.room)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let done = room
            .iter()
            .filter(|l| l.tag.is_some_and(|t| last.get(&t.who) == Some(&t)))
            .map(|l| l.line)
            .max()
            .unwrap_or(0);
        let end = ends.entry(h.member.room).or_insert(0);
        *end = (*end).max(done);
    }
    ends
}

/// What a client got up to the window's last line (`expected`'s last):
/// a reader that relays a line a moment after its client reset may add
/// one after it, which no healthy client is asked about.
fn within<'a>(got: &'a [Tag], expected: &[Tag]) -> &'a [Tag] {
    match expected
        .last()
        .and_then(|last| got.iter().rposition(|t| t == last))
    {
        Some(at) => &got[..=at],
        None => got,
    }
}

/// Whether `h` got every line each healthy room mate sent, `1` to its
/// last, in order: counted from what the mates say they sent, so a line
/// lost before the transcript is caught too.
fn from_each_mate(h: &HealthyReport, healthy: &[HealthyReport]) -> Vec<String> {
    let mut problems = Vec::new();
    for mate in healthy
        .iter()
        .filter(|m| m.member.room == h.member.room && m.member.who != h.member.who)
    {
        let got: Vec<u32> = h
            .tags
            .iter()
            .filter(|t| t.who == mate.member.who)
            .map(|t| t.n)
            .collect();
        let sent: Vec<u32> = (1..=mate.sent).collect();
        if got != sent {
            let at = got.iter().zip(&sent).take_while(|(a, b)| a == b).count();
            problems.push(format!(
                "from {}: {} of its {} lines, first difference at its line {}",
                mate.member.name,
                got.len(),
                mate.sent,
                at + 1
            ));
        }
    }
    problems
}

/// What is wrong with `got` against `expected`, if anything. With a
/// transcript that dropped records, `expected` need only be found in order
/// within `got`.
fn compare_tags(expected: &[Tag], got: &[Tag], gaps: bool) -> Option<String> {
    if gaps {
        let mut rest = got.iter();
        let missing = expected.iter().filter(|t| !rest.any(|g| g == *t)).count();
        return (missing > 0).then(|| format!("{missing} of {} lines missing", expected.len()));
    }
    if expected == got {
        return None;
    }
    let at = expected.iter().zip(got).take_while(|(a, b)| a == b).count();
    let want: BTreeSet<&Tag> = expected.iter().collect();
    let have: BTreeSet<&Tag> = got.iter().collect();
    let missing = want.difference(&have).count();
    let extra = have.difference(&want).count();
    Some(format!(
        "expected {} lines, got {}: {missing} missing, {extra} not in the transcript; first \
         difference at line {at}: expected {:?}, got {:?}",
        expected.len(),
        got.len(),
        expected.get(at).map(Tag::to_string),
        got.get(at).map(Tag::to_string),
    ))
}

/// A session holder's numbered lines against the room's, after its start
/// and up to `end`: all there, in order, each with the right tag. Returns
/// how many were checked, and what is wrong.
fn compare_numbers(
    h: &HealthyReport,
    room: &[RoomLine],
    start: u64,
    end: u64,
) -> (usize, Option<String>) {
    let disorder = h.numbered.windows(2).filter(|w| w[1].0 <= w[0].0).count();
    let got: BTreeMap<u64, Option<Tag>> = h.numbered.iter().copied().collect();
    let mut missing = Vec::new();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for l in room.iter().filter(|l| l.line > start && l.line <= end) {
        let own = l.tag.is_some_and(|t| t.who == h.member.who)
            || (l.event == "join" && l.name.as_deref() == Some(h.member.name.as_str()));
        if own {
            continue;
        }
        checked += 1;
        match got.get(&l.line) {
            None => missing.push(l.line),
            Some(tag) if l.tag.is_some() && *tag != l.tag => wrong.push(l.line),
            Some(_) => {}
        }
    }
    let mut problems = Vec::new();
    if disorder > 0 {
        problems.push(format!("{disorder} numbers out of order"));
    }
    if !missing.is_empty() {
        problems.push(format!(
            "{} room lines missing (first {:?})",
            missing.len(),
            &missing[..missing.len().min(5)]
        ));
    }
    if !wrong.is_empty() {
        problems.push(format!(
            "{} lines not what the room heard (first {:?})",
            wrong.len(),
            &wrong[..wrong.len().min(5)]
        ));
    }
    (checked, (!problems.is_empty()).then(|| problems.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mix::{class, Member};

    fn tag(who: u32, n: u32) -> Tag {
        Tag { who, n }
    }

    fn healthy(index: usize, sent: u32, tags: Vec<Tag>) -> HealthyReport {
        let member: Member = class()
            .into_iter()
            .find(|m| m.kind == Kind::Healthy && m.index == index)
            .expect("a healthy member");
        HealthyReport {
            member,
            seated: true,
            session_start: None,
            sent,
            numbered: Vec::new(),
            tags,
            skips: Vec::new(),
            errors: Vec::new(),
            muted_heard: Vec::new(),
            lines: 0,
            goodbye: true,
            closed: true,
        }
    }

    fn line(line: u64, event: &'static str, tag: Option<Tag>) -> RoomLine {
        RoomLine {
            line,
            event,
            tag,
            name: None,
        }
    }

    /// Tags must match the transcript exactly, or in order where it has gaps.
    #[test]
    fn tags_must_match_exactly_unless_the_transcript_has_gaps() {
        let expected = [tag(1, 1), tag(2, 1), tag(1, 2)];
        assert_eq!(compare_tags(&expected, &expected, false), None);
        let missing = [tag(1, 1), tag(1, 2)];
        let problem = compare_tags(&expected, &missing, false).expect("one missing");
        assert!(problem.contains("1 missing"), "{problem}");
        let swapped = [tag(2, 1), tag(1, 1), tag(1, 2)];
        let problem = compare_tags(&expected, &swapped, false).expect("out of order");
        assert!(problem.contains("first difference at line 0"), "{problem}");
        // With gaps, more may have come than the transcript kept.
        let more = [tag(9, 9), tag(1, 1), tag(2, 1), tag(1, 2)];
        assert_eq!(compare_tags(&expected, &more, true), None);
        assert!(compare_tags(&expected, &missing, true).is_some());
    }

    /// Lines after the window's last one are cut off before comparing.
    #[test]
    fn what_came_after_the_window_is_not_judged() {
        let expected = [tag(1, 1), tag(2, 1)];
        let got = [tag(1, 1), tag(2, 1), tag(5, 7)];
        assert_eq!(within(&got, &expected), &got[..2]);
        let short = [tag(1, 1)];
        assert_eq!(within(&short, &expected), &short[..]);
    }

    /// A line missing from a healthy mate is caught without the transcript.
    #[test]
    fn every_line_of_each_healthy_mate_is_counted() {
        // healthy 0 and 3 share the lobby.
        let mate = healthy(3, 3, Vec::new());
        let who = mate.member.who;
        let complete = healthy(0, 1, vec![tag(who, 1), tag(who, 2), tag(who, 3)]);
        let all = [complete, mate];
        assert!(from_each_mate(&all[0], &all).is_empty());
        let short = healthy(0, 1, vec![tag(who, 1), tag(who, 3)]);
        let problems = from_each_mate(&short, &all);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("2 of its 3 lines"), "{problems:?}");
    }

    /// A missing, mistagged or reordered number fails; own lines are left out.
    #[test]
    fn numbered_lines_must_all_be_there_in_order_with_their_tags() {
        let mut h = healthy(0, 1, Vec::new());
        let me = h.member.who;
        let room = [
            line(5, "join", None),
            line(7, "message", Some(tag(8, 1))),
            line(8, "message", Some(tag(me, 1))),
            line(9, "leave", None),
            line(11, "say", None),
        ];
        h.numbered = vec![(7, Some(tag(8, 1))), (9, None), (11, None)];
        assert_eq!(compare_numbers(&h, &room, 6, 11), (3, None));
        h.numbered = vec![(7, Some(tag(8, 1))), (11, None)];
        let (_, problem) = compare_numbers(&h, &room, 6, 11);
        assert!(problem.expect("9 missing").contains("[9]"));
        h.numbered = vec![(7, Some(tag(8, 2))), (9, None), (11, None)];
        assert!(compare_numbers(&h, &room, 6, 11).1.is_some(), "a wrong tag");
        h.numbered = vec![(9, None), (7, Some(tag(8, 1))), (11, None)];
        assert!(
            compare_numbers(&h, &room, 6, 11).1.is_some(),
            "out of order"
        );
    }
}
