//! A report [`Table`] as CSV (formula cells escaped like `exportLeads`), XLSX
//! (`rust_xlsxwriter`, numbers as numbers) or PDF (`pdf-writer`: base-14 Helvetica in
//! WinAnsi, so the text is extractable; the table paginated on A4; a bar chart of the
//! table's chart series drawn as vector paths on the first page).

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use super::report_data::{Cell, Table};
use crate::domains::{insight::types::ReportFormat, leads::export_cell};

/// Content type and file extension of a format.
pub fn content_type(format: ReportFormat) -> (&'static str, &'static str) {
    match format {
        ReportFormat::Csv => ("text/csv", "csv"),
        ReportFormat::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        ReportFormat::Pdf => ("application/pdf", "pdf"),
    }
}

/// The table in `format`.
pub fn render(t: &Table, format: ReportFormat) -> Result<Vec<u8>, String> {
    match format {
        ReportFormat::Csv => csv(t).map_err(|e| e.to_string()),
        ReportFormat::Xlsx => xlsx(t).map_err(|e| e.to_string()),
        ReportFormat::Pdf => Ok(pdf(t)),
    }
}

fn csv(t: &Table) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&t.columns)?;
    for r in &t.rows {
        w.write_record(r.iter().map(|c| export_cell(&c.text())))?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

fn xlsx(t: &Table) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in t.columns.iter().enumerate() {
        ws.write_string(0, c as u16, h)?;
    }
    for (i, r) in t.rows.iter().enumerate() {
        let row = i as u32 + 1;
        for (c, cell) in r.iter().enumerate() {
            let col = c as u16;
            match cell {
                Cell::Int(n) => ws.write_number(row, col, *n as f64)?,
                Cell::Rate(Some(x)) => ws.write_number(row, col, *x)?,
                Cell::Rate(None) => ws,
                Cell::Text(s) => ws.write_string(row, col, s)?,
            };
        }
    }
    wb.save_to_buffer()
}

/// Text in WinAnsi (Latin-1 range kept, anything else `?`), for the base-14 font.
fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match u32::from(c) {
            0x20..=0x7e | 0xa0..=0xff => c as u8,
            _ => b'?',
        })
        .collect()
}

/// Cuts text to `max` characters (an ellipsis marks the cut).
fn fit(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut cut: String = s.chars().take(max.saturating_sub(1)).collect();
        cut.push('~');
        cut
    }
}

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 40.0;
const LINE: f32 = 13.0;
const FONT: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

fn text(c: &mut Content, font: Name, size: f32, x: f32, y: f32, s: &str) {
    c.begin_text();
    c.set_font(font, size);
    c.next_line(x, y);
    c.show(Str(&win_ansi(s)));
    c.end_text();
}

/// The chart: one bar per (label, value), scaled to the largest, labels under the bars.
fn chart(c: &mut Content, t: &Table, top: f32) -> f32 {
    let bars: Vec<&(String, f64)> = t.chart.iter().take(20).collect();
    text(c, BOLD, 11.0, MARGIN, top, &t.chart_title);
    let (base, height) = (top - 150.0, 120.0);
    let max = bars.iter().map(|b| b.1).fold(0.0_f64, f64::max);
    let width = (PAGE_W - 2.0 * MARGIN) / bars.len().max(1) as f32;
    c.set_stroke_rgb(0.3, 0.3, 0.3);
    c.set_line_width(0.5);
    c.move_to(MARGIN, base);
    c.line_to(PAGE_W - MARGIN, base);
    c.stroke();
    for (i, (label, value)) in bars.iter().enumerate() {
        let h = if max > 0.0 {
            (value / max) as f32 * height
        } else {
            0.0
        };
        let x = MARGIN + i as f32 * width;
        c.set_fill_rgb(0.2, 0.4, 0.8);
        c.rect(x + width * 0.15, base, width * 0.7, h);
        c.fill_nonzero();
        c.set_fill_rgb(0.0, 0.0, 0.0);
        text(
            c,
            FONT,
            6.0,
            x + 2.0,
            base - 9.0,
            &fit(label, (width / 3.5) as usize),
        );
    }
    base - 30.0
}

fn pdf(t: &Table) -> Vec<u8> {
    let ncols = t.columns.len().max(1);
    let col_w = (PAGE_W - 2.0 * MARGIN) / ncols as f32;
    let max_chars = ((col_w / 4.2) as usize).max(3);
    let mut pages: Vec<Content> = vec![];
    let mut c = Content::new();
    let mut y = PAGE_H - MARGIN - 16.0;
    text(&mut c, BOLD, 16.0, MARGIN, y, &t.title);
    y -= 18.0;
    text(&mut c, FONT, 9.0, MARGIN, y, &t.subtitle);
    y -= 24.0;
    if !t.chart.is_empty() {
        y = chart(&mut c, t, y);
    }
    let header = |c: &mut Content, y: f32| {
        for (i, h) in t.columns.iter().enumerate() {
            text(
                c,
                BOLD,
                8.0,
                MARGIN + i as f32 * col_w,
                y,
                &fit(h, max_chars),
            );
        }
    };
    header(&mut c, y);
    y -= LINE;
    for r in &t.rows {
        if y < MARGIN + LINE {
            pages.push(std::mem::replace(&mut c, Content::new()));
            y = PAGE_H - MARGIN - 10.0;
            header(&mut c, y);
            y -= LINE;
        }
        for (i, cell) in r.iter().enumerate() {
            text(
                &mut c,
                FONT,
                8.0,
                MARGIN + i as f32 * col_w,
                y,
                &fit(&cell.text(), max_chars),
            );
        }
        y -= LINE;
    }
    y -= LINE;
    for (label, value) in &t.totals {
        if y < MARGIN {
            pages.push(std::mem::replace(&mut c, Content::new()));
            y = PAGE_H - MARGIN - 10.0;
        }
        text(
            &mut c,
            BOLD,
            10.0,
            MARGIN,
            y,
            &format!("Total {label}: {value}"),
        );
        y -= LINE + 2.0;
    }
    pages.push(c);
    assemble(pages)
}

/// Catalog, page tree, the two fonts and one content stream per page.
fn assemble(pages: Vec<Content>) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let (catalog, tree, font, bold) = (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4));
    let ids: Vec<(Ref, Ref)> = (0..pages.len() as i32)
        .map(|i| (Ref::new(5 + 2 * i), Ref::new(6 + 2 * i)))
        .collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(ids.iter().map(|(p, _)| *p))
        .count(ids.len() as i32);
    for (name, id) in [
        (b"Helvetica".as_slice(), font),
        (b"Helvetica-Bold".as_slice(), bold),
    ] {
        pdf.type1_font(id)
            .base_font(Name(name))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    for ((page_id, content_id), content) in ids.into_iter().zip(pages) {
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
        page.parent(tree);
        page.contents(content_id);
        let mut resources = page.resources();
        resources.fonts().pair(FONT, font).pair(BOLD, bold);
        resources.finish();
        page.finish();
        pdf.stream(content_id, &content.finish());
    }
    pdf.finish()
}
