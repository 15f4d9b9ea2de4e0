-- Argo CD health of an agentgate AccessGrant.
-- An expired or revoked grant ended as designed: Suspended, never Degraded, so an
-- application keeping grants in Git does not turn red when a window closes.
local hs = {}
if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the agentgate operator to reconcile the grant"
  return hs
end
if obj.metadata ~= nil and obj.metadata.generation ~= nil and obj.status.observedGeneration ~= nil
    and obj.status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "The operator has not yet observed the latest spec"
  return hs
end
local function condition_message(kind)
  if obj.status.conditions ~= nil then
    for _, c in ipairs(obj.status.conditions) do
      if c.type == kind and c.message ~= nil and c.message ~= "" then return c.message end
    end
  end
  return nil
end
local phase = obj.status.phase
if phase == "Active" then
  hs.status = "Healthy"
  hs.message = "Active until " .. (obj.status.expiresAt or "?")
elseif phase == "Pending" then
  hs.status = "Progressing"
  hs.message = "Window opens at " .. ((obj.spec and obj.spec.notBefore) or "notBefore")
elseif phase == "AwaitingApproval" then
  hs.status = "Progressing"
  hs.message = "Waiting for approval of ApprovalRequest " .. (obj.status.approvalRequest or "?")
elseif phase == "Expired" then
  hs.status = "Suspended"
  hs.message = "Window closed at " .. (obj.status.expiresAt or "?") .. "; create a new AccessGrant to extend"
elseif phase == "Revoked" then
  hs.status = "Suspended"
  hs.message = condition_message("Active") or "Access revoked"
elseif phase == "Denied" then
  hs.status = "Degraded"
  hs.message = condition_message("Approved") or "Activation was denied"
elseif phase == "Invalid" then
  hs.status = "Degraded"
  hs.message = condition_message("Valid") or "The grant is outside the agent's ceiling"
else
  hs.status = "Unknown"
  hs.message = "Unknown phase " .. tostring(phase)
end
return hs
