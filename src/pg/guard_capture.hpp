// guard_batch's row capture: the function fired BEFORE INSERT ... FOR EACH ROW copies each row's inputs,
// whose full chunks the backend's helper thread featurizes and scores while the insert goes on; the same
// function fired AFTER INSERT ... FOR EACH STATEMENT waits for the last chunk and acts on the scores.
#pragma once

#include "pg/guard_state.hpp"

namespace dendrite::pg {

// The row trigger: captures the new row (the first row starts the statement's capture).
Datum capture_row(FunctionCallInfo fcinfo, TriggerData* trigger);
// The statement trigger: the next capture of this statement with this trigger's arguments (NULL: none
// left), and acting on its scores (which ends it).
Capture* statement_capture(FunctionCallInfo fcinfo, TriggerData* trigger);
void score_capture(Capture* capture, Relation relation);
// Whether the table has a trigger calling function with the same arguments, of the other kind (a row
// trigger when want_row_trigger, else a statement trigger).
bool has_partner_trigger(TriggerData* trigger, Oid function, bool want_row_trigger);

}  // namespace dendrite::pg
