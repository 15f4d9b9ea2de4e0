-- Argo CD health of an agentgate ApprovalRequest (created by agentgate, seen by Argo CD
-- when it tracks them, e.g. activation requests of grants it syncs).
local hs = {}
if obj.status == nil or obj.status.phase == nil or obj.status.phase == "Pending" then
  local n = 0
  if obj.status ~= nil and obj.status.approvals ~= nil then
    for _, a in ipairs(obj.status.approvals) do
      if a.decision == "Approved" then n = n + 1 end
    end
  end
  hs.status = "Progressing"
  hs.message = "Waiting for approval (" .. n .. " so far): " .. ((obj.spec and obj.spec.summary) or "")
  return hs
end
local phase = obj.status.phase
if phase == "Approved" then
  hs.status = "Healthy"
  hs.message = "Approved; usable once until " .. (obj.status.validUntil or "?")
elseif phase == "Consumed" then
  hs.status = "Healthy"
  hs.message = "Approved and used at " .. (obj.status.consumedAt or "?")
elseif phase == "Denied" then
  hs.status = "Degraded"
  hs.message = obj.status.message or "Denied by an approver"
elseif phase == "Expired" then
  hs.status = "Suspended"
  hs.message = obj.status.message or "Expired before it was approved or used"
else
  hs.status = "Unknown"
  hs.message = "Unknown phase " .. tostring(phase)
end
return hs
