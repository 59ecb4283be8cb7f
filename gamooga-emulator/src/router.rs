//! Which handler answers which path, on each of the emulator's two listeners: the API's
//! port (Gamooga's API, plus the inspector under `/_emulator/`) and the inspector's own port
//! (the inspector only, so it stays up when the API goes down).

use std::future::Future;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::Request;

use crate::api::{self, ApiRequest};
use crate::http::{failure, Answer, DropConnection, Handler};
use crate::inspector::{redirect_to_page, Inspector};
use crate::state::Shared;

/// The API's listener.
pub(crate) struct ApiPort {
    pub shared: Arc<Shared>,
    pub inspector: Arc<Inspector>,
}

impl Handler for ApiPort {
    fn handle(
        &self,
        req: Request<Incoming>,
    ) -> impl Future<Output = Result<Answer, DropConnection>> + Send + use<> {
        let shared = Arc::clone(&self.shared);
        let inspector = Arc::clone(&self.inspector);
        async move {
            if req.uri().path().starts_with("/_emulator/") {
                return Ok(inspector.answer(req).await);
            }
            api::answer(&shared, ApiRequest::read(req).await).await
        }
    }
}

/// The inspector's own listener.
pub(crate) struct InspectorPort {
    pub inspector: Arc<Inspector>,
}

impl Handler for InspectorPort {
    fn handle(
        &self,
        req: Request<Incoming>,
    ) -> impl Future<Output = Result<Answer, DropConnection>> + Send + use<> {
        let inspector = Arc::clone(&self.inspector);
        async move {
            let path = req.uri().path();
            if path.starts_with("/_emulator/") {
                return Ok(inspector.answer(req).await);
            }
            if path == "/" || path == "/_emulator" {
                return Ok(redirect_to_page());
            }
            Ok(failure(
                404,
                &format!(
                    "{path}: this is the emulator's inspector port, the page is at /_emulator/; \
                     Gamooga's API is on the emulator's other port"
                ),
            ))
        }
    }
}
