//! Replicated transactions (being written; see issue "Foundation").
