//! The crawl's frontier: the pages sent to the workers, the links a finished page adds
//! (canonical, within depth, on the seeds' sites, new, within the page budget), the best
//! company name seen per site, and a finished page's row and contacts.

use std::collections::{HashMap, HashSet};

use tokio::sync::mpsc;
use url::Url;
use uuid::Uuid;

use super::{
    page::{Outcome, PageResult, Queued},
    writer::{Batch, Finished},
};
use crate::domains::scraping::{
    service::{
        crawler::{canonical, site_of},
        extract::{Company, PageData},
        params::Crawl,
        sink::contacts_from_page,
    },
    types::ScrapePageStatus,
};

/// What the crawl loop knows about the job's pages.
pub struct Frontier {
    known: HashSet<String>,
    total: usize,
    max_pages: usize,
    max_depth: i32,
    same_domain_only: bool,
    sites: HashSet<String>,
    companies: HashMap<String, Company>,
    send: mpsc::UnboundedSender<Queued>,
    /// Pages sent to the workers whose results the loop has not processed yet.
    pub outstanding: usize,
}

impl Frontier {
    /// The frontier of the job's pages `rows` (`(id, url, depth, queued)`); the queued ones are
    /// sent to the workers through `send` now.
    pub fn new(
        rows: Vec<(Uuid, String, i32, bool)>,
        crawl: &Crawl,
        send: mpsc::UnboundedSender<Queued>,
    ) -> Self {
        let sites = rows
            .iter()
            .filter(|r| r.2 == 0)
            .filter_map(|r| Url::parse(&r.1).ok())
            .map(|u| site_of(&u))
            .collect();
        let mut f = Frontier {
            known: rows.iter().map(|r| r.1.clone()).collect(),
            total: rows.len(),
            max_pages: usize::try_from(crawl.max_pages).unwrap_or(0),
            max_depth: crawl.max_depth,
            same_domain_only: crawl.same_domain_only,
            sites,
            companies: HashMap::new(),
            send,
            outstanding: 0,
        };
        for r in rows.into_iter().filter(|r| r.3) {
            if let Ok(u) = Url::parse(&r.1) {
                f.queue((r.0, u, r.2));
            }
        }
        f
    }

    fn queue(&mut self, row: Queued) {
        self.outstanding += 1;
        let _ = self.send.send(row);
    }

    /// Takes a finished page: queues the links worth following (their rows commit with this
    /// page's batch, `pending`) and returns the page's row with its contacts.
    pub fn finish(&mut self, page: PageResult, pending: &mut Batch) -> Finished {
        self.outstanding -= 1;
        let mut contacts = Vec::new();
        if let Outcome::Html {
            page: data,
            final_url,
            ..
        } = &page.outcome
        {
            self.known.insert(
                canonical(final_url)
                    .map(|u| u.to_string())
                    .unwrap_or_default(),
            );
            if page.depth < self.max_depth {
                self.follow(data, page.depth, pending);
            }
            contacts = self.contacts(data, final_url);
            for c in &mut contacts {
                c.url = page.url.to_string();
            }
        }
        let (status, http_status, error) = match page.outcome {
            Outcome::Html { status, .. } => (ScrapePageStatus::Done, Some(status), None),
            Outcome::Skipped { reason, status } => {
                (ScrapePageStatus::Skipped, status, Some(reason))
            }
            Outcome::Failed { reason, status } => (ScrapePageStatus::Failed, status, Some(reason)),
        };
        Finished {
            id: page.id,
            url: page.url,
            depth: page.depth,
            status,
            http_status,
            error,
            contacts,
        }
    }

    fn follow(&mut self, data: &PageData, depth: i32, pending: &mut Batch) {
        for l in &data.links {
            if self.total >= self.max_pages {
                break;
            }
            let Some(c) = canonical(l) else { continue };
            if self.same_domain_only && !self.sites.contains(&site_of(&c)) {
                continue;
            }
            if self.known.insert(c.to_string()) {
                let row = (Uuid::now_v7(), c, depth + 1);
                pending.new_pages.push(row.clone());
                self.queue(row);
                self.total += 1;
            }
        }
    }

    /// The page's contacts, with the best company name seen on its site.
    fn contacts(
        &mut self,
        data: &PageData,
        final_url: &Url,
    ) -> Vec<crate::domains::scraping::service::sink::Contact> {
        let site = site_of(final_url);
        if let Some(c) = &data.company {
            let better = self
                .companies
                .get(&site)
                .is_none_or(|old| c.signal > old.signal);
            if better {
                self.companies.insert(site.clone(), c.clone());
            }
        }
        let company = self.companies.get(&site).map(|c| c.name.clone());
        contacts_from_page(data, final_url, company.as_deref()).0
    }
}
