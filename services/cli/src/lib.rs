//! The operator's command line, as a library so the end-to-end tests drive the same code.

pub mod audit;
pub mod bench;
pub mod broker_users;
pub mod client;
pub mod dead_letters;
pub mod demo;
pub mod dev_pki;
pub mod explain;
pub mod keys;
pub mod migrate;
pub mod postcodes;
pub mod render;
pub mod sample;

use refroute_proto::v1::coordinator_service_client::CoordinatorServiceClient;
use refroute_proto::v1::{Case, ListQueueRequest, Panel};

/// Every case in an area's MARAC queue, following page tokens to the end.
pub async fn whole_queue(
    coordinator: &mut CoordinatorServiceClient<tonic::transport::Channel>,
    area: &str,
) -> Result<Vec<Case>, tonic::Status> {
    whole_queue_of(coordinator, area, Panel::Marac).await
}

/// Every case in one panel's queue of an area, following page tokens to the end.
pub async fn whole_queue_of(
    coordinator: &mut CoordinatorServiceClient<tonic::transport::Channel>,
    area: &str,
    panel: Panel,
) -> Result<Vec<Case>, tonic::Status> {
    let mut cases = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = coordinator
            .list_queue(ListQueueRequest {
                area_code: area.into(),
                panel: panel as i32,
                page_size: 500,
                page_token,
            })
            .await?
            .into_inner();
        cases.extend(page.cases);
        if page.next_page_token.is_empty() {
            return Ok(cases);
        }
        page_token = page.next_page_token;
    }
}
