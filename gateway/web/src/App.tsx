import { Route, Routes } from "react-router-dom";
import { ForgotPassword, OAuthDone, ResetPassword, SignIn, SignUp, VerifyEmail } from "./pages/AuthPages";
import { Join } from "./pages/Join";
import { Shell } from "./chat/Shell";
import { NotFound } from "./pages/NotFound";
import { NodePage } from "./pages/NodePage";

// The routes match appRoutes in gateway/web.go, which serves index.html
// for each of them.
export function App() {
  return (
    <Routes>
      <Route path="/" element={<Shell />} />
      <Route path="/p/:party" element={<Shell />} />
      <Route path="/p/:party/:topic" element={<Shell />} />
      <Route path="/signin" element={<SignIn />} />
      <Route path="/signup" element={<SignUp />} />
      <Route path="/forgot-password" element={<ForgotPassword />} />
      <Route path="/verify-email" element={<VerifyEmail />} />
      <Route path="/reset-password" element={<ResetPassword />} />
      <Route path="/oauth/done" element={<OAuthDone />} />
      <Route path="/join" element={<Join />} />
      <Route path="/node" element={<NodePage />} />
      <Route path="*" element={<NotFound />} />
    </Routes>
  );
}
