-- HTML only: captions carry "Figure N:" (Typst adds it by itself).
function Figure(fig)
  local n = fig.attributes.number
  if n and #fig.caption.long > 0 then
    local first = fig.caption.long[1]
    if first.content then
      first.content:insert(1, pandoc.Str("Figure " .. n .. ": "))
    end
  end
  fig.attributes.number = nil
  return fig
end
