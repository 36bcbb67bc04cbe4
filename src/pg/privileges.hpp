// Who may do what (see docs/sql.md, "Privileges").
//
//  * Roles: dendrite_scorer (score, guard triggers, read the catalog's non-sensitive tables),
//    dendrite_trainer (also train, deploy, roll back and drop the models and featurizers it owns, and read
//    their parameters, trees, fitted statistics and logged predictions), dendrite_admin (all of that for
//    every model). Superusers may do everything.
//  * A model or featurizer belongs to the role that created it (column owner); a member of that role or an
//    admin may manage it.
//  * The catalog tables are the extension owner's. dendrite's own statements on them (catalog.hpp) run as
//    that owner with search_path pinned; a user's query (train, score_query, featurize) runs with the
//    caller's rights, as the caller.
#pragma once

#include "pg/postgres_headers.hpp"

namespace dendrite::pg {

// The role that owns the extension (and so its catalog tables).
Oid extension_owner();

// Whether the current user may manage (retrain, deploy, roll back, drop) an object owned by owner.
bool may_manage(const char* owner);
// The same for another role (the caller that an internal_ function was given).
bool may_manage_as(Oid user, const char* owner);

// Raises 42501 unless the current user may manage the model (or featurizer) of that name. An object that
// does not exist yet may be created by anyone with the right to call the function.
void require_model_manager(const char* model);
void require_featurizer_manager(const char* featurizer);
// The same for an owner already read: raises 42501 naming the object when the current user may not manage it.
void require_manager(const char* kind, const char* name, const char* owner);

// Whether dendrite.featurizers has its owner column (0.3.0 on): until ALTER EXTENSION dendrite UPDATE,
// a database keeps working with the new library, without featurizer ownership.
bool featurizers_have_owners();

// The current user's name, for the owner and audit columns (catalog statements run as another role).
char* current_user_name();

}  // namespace dendrite::pg
