//! Unit tests of the template renderer: rendering, escaping, the sandbox limits and the scans.

use super::*;

fn content(subject: &str, html: &str, text: &str) -> Content {
    Content {
        subject: subject.into(),
        body_html: html.into(),
        body_text: text.into(),
    }
}

fn ctx() -> Value {
    context(sample_lead(), "Sam", "sam@x.io", "Acme", "https://u/x")
}

/// What an HTML body renders to with [`ctx`].
fn html(src: &str) -> String {
    render(&content("", src, ""), &ctx()).unwrap().html
}

#[test]
fn renders_escapes_and_uses_filters() {
    let mut lead = sample_lead();
    lead["company"] = json!("<b>Evil</b>");
    lead.as_object_mut().unwrap().remove("title");
    let c = context(lead, "Sam", "sam@x.io", "Acme", "https://u/x");
    let r = render(
        &content(
            "Hi {{ lead.firstName }}\nthere",
            "<p>{{ lead.company }} {{ lead.title | default('friend') | title }}</p>",
            "{{ lead.company }} from {{ sender.name }} at {{ organization.name }}",
        ),
        &c,
    )
    .unwrap();
    assert_eq!(r.subject, "Hi Ada there");
    assert_eq!(r.html, "<p>&lt;b&gt;Evil&lt;&#x2f;b&gt; Friend</p>");
    assert_eq!(r.text, "<b>Evil</b> from Sam at Acme");
}

#[test]
fn strict_undefined_fuel_and_no_files() {
    let e = render(&content("{{ lead.nope }}", "", ""), &ctx()).unwrap_err();
    assert_eq!(e.kind, TemplateIssueKind::Render);
    let e = render(
        &content(
            "",
            "{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}",
            "",
        ),
        &ctx(),
    )
    .unwrap_err();
    assert!(e.message.contains("fuel"), "{e:?}");
    let e = render(&content("", "", "{% include '/etc/passwd' %}"), &ctx()).unwrap_err();
    assert_eq!(e.kind, TemplateIssueKind::Unsupported);
    assert!(!e.message.contains("root:"));
}

/// The error, or a panic that does not print a huge rendering.
fn short_err(r: Result<Rendered, TemplateIssue>) -> TemplateIssue {
    match r {
        Ok(r) => panic!("rendered {} bytes of HTML", r.html.len()),
        Err(e) => e,
    }
}

#[test]
fn amplifying_constructs_are_refused_before_they_build_anything() {
    // Repetition: refused before compiling (minijinja would fold it to 100 MB there).
    for src in [
        "{{ \"x\" * 100000000 }}",
        "{{ lead.company * 1000000 }}",
        "{{ [1] * 100000000 }}",
    ] {
        let e = short_err(render(&content("", src, ""), &ctx()));
        assert_eq!(e.kind, TemplateIssueKind::Unsupported, "{src}: {e:?}");
        assert!(e.message.contains('*'), "{e:?}");
        let issues = validate(&content("", src, ""));
        assert_eq!(issues[0].kind, TemplateIssueKind::Unsupported, "{src}");
    }
    // Doubling through assignments (2^22 bytes without any output).
    let doubling = format!(
        "{{% set s = \"x\" %}}{}ok",
        "{% set s = s ~ s %}".repeat(22)
    );
    let namespace = "{% set ns = namespace(s=\"x\") %}{% for i in range(40) %}\
                     {% set ns.s = ns.s ~ ns.s %}{% endfor %}";
    let with_chain = format!(
        "{}{{{{ b }}}}{}",
        "{% with b = lead.company ~ lead.company %}".repeat(30),
        "{% endwith %}".repeat(30)
    );
    let macro_rec = "{% macro f(s, n) %}{% if n %}{{ f(s ~ s, n - 1) }}{% endif %}{% endmacro %}{{ f('x', 40) }}";
    let capture = "{% set s %}{{ lead.company }}{% endset %}{{ s }}";
    let recursive = "{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}";
    for src in [
        doubling.as_str(),
        namespace,
        with_chain.as_str(),
        macro_rec,
        capture,
        recursive,
    ] {
        let e = short_err(render(&content("", src, ""), &ctx()));
        assert_eq!(e.kind, TemplateIssueKind::Unsupported, "{src}: {e:?}");
    }
    // Too many concatenations in one part.
    let chain = format!(
        "{{{{ lead.company{} }}}}",
        " ~ lead.company".repeat(MAX_CONCATS + 1)
    );
    let e = short_err(render(&content("", &chain, ""), &ctx()));
    assert_eq!(e.kind, TemplateIssueKind::Unsupported, "{e:?}");
    // Loops with loop targets and unpacking still work.
    assert_eq!(
        html("{% for k, v in {'a': 1}|items %}{{ k }}={{ v }}{% endfor %}{% for i in range(3) %}{{ i }}{% endfor %}"),
        "a=1012"
    );
}

#[test]
fn filters_and_output_are_bounded_while_rendering() {
    let mut c = ctx();
    c["s"] = json!("y".repeat(2048));
    // `replace` of every position: 2 KiB × 2 KiB, refused from the estimate.
    for src in [
        "{{ s | replace('', s) }}",
        "{{ range(100000) | join(s) }}",
        "{{ s | indent(100000000) }}",
        "{{ '%100000000s' | format('x') }}",
    ] {
        let e = short_err(render(&content("", src, ""), &c));
        assert_eq!(e.kind, TemplateIssueKind::Render, "{src}: {e:?}");
        assert!(e.message.contains("template limits"), "{src}: {e:?}");
    }
    // Nested filters double the value each time: refused once it would pass the limit.
    let src = format!("{{{{ s{} }}}}", " | replace('y', 'yy')".repeat(8));
    let e = short_err(render(&content("", &src, ""), &c));
    assert!(e.message.contains("template limits"), "{e:?}");
    // Huge output from a loop stops at the cap.
    let e = short_err(render(
        &content("", "{% for i in range(100000) %}{{ s }}{% endfor %}", ""),
        &c,
    ));
    assert_eq!(e.kind, TemplateIssueKind::TooLarge, "{e:?}");
    // A context string over the value limit.
    let mut big = ctx();
    big["lead"]["company"] = json!("z".repeat(MAX_VALUE + 1));
    let e = short_err(render(&content("{{ lead.company }}", "", ""), &big));
    assert_eq!(e.kind, TemplateIssueKind::TooLarge, "{e:?}");
    // Ordinary filters keep working.
    assert_eq!(
        html("{{ lead.company | replace('Ltd', 'Limited') | upper }} {{ ['a', 'b'] | join(', ') }} {{ '%s!' | format(lead.firstName) }}"),
        "ANALYTICAL ENGINES LIMITED a, b Ada!"
    );
}

#[tokio::test]
async fn bounded_render_runs_on_the_blocking_pool() {
    let r = render_bounded(content("Hi {{ lead.firstName }}", "", ""), ctx())
        .await
        .unwrap();
    assert_eq!(r.subject, "Hi Ada");
    let e = render_bounded(content("", "{{ 'x' * 3 }}", ""), ctx())
        .await
        .unwrap_err();
    assert!(matches!(e, RenderFailure::Issue(_)), "{e:?}");
}

#[test]
fn validation_reports_unknown_variables_and_syntax_with_positions() {
    let issues = validate(&content(
        "Hi {{ lead.firstName }}",
        "<p>\n  {{ lead.fristName }} {{ sender.name }} {{ foo }}</p>",
        "{% if %}",
    ));
    let unknown: Vec<_> = issues
        .iter()
        .filter(|i| i.kind == TemplateIssueKind::UnknownVariable)
        .map(|i| (i.variable.clone().unwrap(), i.line, i.column))
        .collect();
    assert_eq!(
        unknown,
        vec![
            ("foo".to_string(), Some(2), Some(45)),
            ("lead.fristName".to_string(), Some(2), Some(6)),
        ]
    );
    let syntax = issues
        .iter()
        .find(|i| i.kind == TemplateIssueKind::Syntax)
        .unwrap();
    assert_eq!(syntax.part, TemplatePart::BodyText);
    assert_eq!(syntax.line, Some(1));
    assert!(syntax.column.is_some());
    assert!(validate(&content(
        "{{ lead.customFields.plan }}",
        "{{ unsubscribeUrl }}",
        ""
    ))
    .is_empty());
}
